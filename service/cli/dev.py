"""`flask --app wsgi dev mail-sink`: a local SMTP server for development (`make run` starts it).

It accepts every message and writes it to `instance/dev-mail/<arrival>.eml`, where the
development page /dev/mail shows it. Refused outside development: real mail carries one-time
links, and a sink must never stand in for the real SMTP server.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from service.platform.dev_mail import dev_mail_folder

dev_cli = AppGroup("dev", help="Development helpers (refused outside development).")


class MailToFiles:
    """An aiosmtpd handler: each message becomes one file, named so that names sort by arrival."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{next(self._numbers):04d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@dev_cli.command("mail-sink")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
def mail_sink(host: str, port: int) -> None:
    """Receive mail on HOST:PORT and keep it for /dev/mail, until stopped."""
    if current_app.config["HOMTHU_ENV"] != "development":
        raise click.ClickException("The mail sink runs only in development.")
    from aiosmtpd.controller import Controller  # a development dependency

    folder = dev_mail_folder(current_app.instance_path)
    controller = Controller(MailToFiles(folder), hostname=host, port=port)
    controller.start()
    click.echo(f"mail sink on {host}:{port}, writing to {folder}")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()
