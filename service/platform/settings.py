"""What the domain needs from the configuration, as one frozen value built in `create_app`.

Domain code never reads `current_app.config`: views and CLI commands take the values from
`get_settings()` and pass them on as arguments. Values are checked by `config.load_config`, not
here. The mail adapter (service/mail/outbox.py) gets its `MailSettings` through the session it
writes to (`Session.info`), because every domain function that sends mail already takes that
session: threading a second argument through each of them would add nothing but noise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

EXTENSION = "homthu.settings"
# The key under which every session of the application carries the mail adapter's settings.
MAIL_SESSION_INFO = "homthu.mail"
# ... and SECRET_KEY, for the server-secret sealer (service/sealing/server.py).
SERVER_SECRET_INFO = "homthu.server_secret"  # noqa: S105 (a dictionary key, not a secret)


@dataclass(frozen=True)
class MailSettings:
    """What writing a mail to the outbox needs."""

    sender: str  # From: address; its domain ends every Message-ID
    public_base_url: str  # links inside mail
    notify_hours: tuple[int, ...]  # local hours at which mail caused by a reporter leaves


@dataclass(frozen=True)
class DeliverySettings:
    """What sending the outbox needs (the SMTP server itself is Flask-Mail's configuration)."""

    sender: str
    timeout: int  # seconds an SMTP step may stall
    max_attempts: int
    retry_seconds: int
    retry_max_seconds: int
    lease_seconds: int


@dataclass(frozen=True)
class Settings:
    public_base_url: str
    notify_hours: tuple[int, ...]
    reopen_window: dt.timedelta
    publication_days: int
    report_year_start: tuple[int, int]  # (month, day)
    report_superior_body: str
    invite_hours: int
    mail: MailSettings
    delivery: DeliverySettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        sender = config.get("MAIL_DEFAULT_SENDER") or "homthu@localhost"
        return cls(
            public_base_url=config["PUBLIC_BASE_URL"],
            notify_hours=tuple(config["NOTIFY_HOURS"]),
            reopen_window=dt.timedelta(days=config["REOPEN_WINDOW_DAYS"]),
            publication_days=config["PUBLICATION_DAYS"],
            report_year_start=tuple(config["REPORT_YEAR_START"]),
            report_superior_body=config["REPORT_SUPERIOR_BODY"],
            invite_hours=config["INVITE_HOURS"],
            mail=MailSettings(sender, config["PUBLIC_BASE_URL"], tuple(config["NOTIFY_HOURS"])),
            delivery=DeliverySettings(
                sender=sender,
                timeout=config["MAIL_TIMEOUT"],
                max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
                retry_seconds=config["OUTBOX_RETRY_SECONDS"],
                retry_max_seconds=config["OUTBOX_RETRY_MAX_SECONDS"],
                lease_seconds=config["OUTBOX_LEASE_SECONDS"],
            ),
        )


def init_app(app: Flask) -> Settings:
    settings = Settings.from_config(app.config)
    app.extensions[EXTENSION] = settings
    return settings


def get_settings(app: Flask | None = None) -> Settings:
    """For the edges (views, CLI commands): the application's settings."""
    return (app or current_app).extensions[EXTENSION]
