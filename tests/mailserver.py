"""A real SMTP server in the test process (aiosmtpd on 127.0.0.1, a free port).

Tests read what actually arrived over SMTP. The server can be stopped and started again on the
same port (an outage), made to hold a message without answering (a worker killed mid-send), or
made to wait until two clients are connected (two workers at once).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, current_app
from sqlalchemy.orm import Session

from service.mail.delivery import DeliveryReport, deliver_due
from service.platform.extensions import mail
from service.platform.settings import get_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise AssertionError(f"no {content_type} part")


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted message."""

    messages: list[Received] = field(default_factory=list)
    # Hold the message after this many have been accepted; never accept it (answer 451).
    hold_after: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    # Do not answer any message until this many client connections have sent one.
    wait_for_clients: int = 0
    delay: float = 0.0
    _clients: set = field(default_factory=set)

    async def handle_DATA(self, server, session, envelope):
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 Not accepted, try again later"
        self._clients.add(session.peer)
        deadline = time.monotonic() + 30
        while len(self._clients) < self.wait_for_clients and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 2.0.0 Accepted"

    def message_ids(self) -> list[str]:
        return [received.message_id for received in self.messages]

    def to(self, address: str) -> list[Received]:
        return [received for received in self.messages if address in received.rcpt_tos]


class SmtpServer:
    def __init__(self, inbox: Inbox, port: int) -> None:
        self.inbox = inbox
        self.port = port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def environment(self) -> dict[str, str]:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port)}


def send_due(db: Session, *, max_attempts: int | None = None, **options) -> DeliveryReport:
    """`deliver_due` given what `outbox send` gives it: the app's SMTP state and settings."""
    settings = get_settings().delivery
    if max_attempts is not None:
        settings = dataclasses.replace(settings, max_attempts=max_attempts)
    return deliver_due(db, mail=current_app.extensions["mail"], settings=settings, **options)


def point_app_at(app: Flask, port: int) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False)
    mail.init_app(app)  # Flask-Mail reads its settings when initialised


@pytest.fixture
def smtp(app):
    """A running SMTP server the app sends to; `smtp.inbox.messages` is what arrived."""
    server = SmtpServer(Inbox(), free_port())
    server.start()
    point_app_at(app, server.port)
    yield server
    server.inbox.release.set()
    server.stop()
