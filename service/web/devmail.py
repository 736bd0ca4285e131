"""Development only: the mail the application sent, as the local SMTP sink received it.

`make run` starts a sink (`flask --app wsgi dev mail-sink`) that writes each message it receives
to `instance/dev-mail/`, and the outbox worker that delivers to it; this page lists them, newest
first. The blueprint is registered only when HOMTHU_ENV is `development`: in production and in
tests the URL does not exist (and mail there carries one-time links that must not be shown).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from flask import Blueprint, current_app, render_template

from service.platform.dev_mail import dev_mail_folder
from service.web.access import public

bp = Blueprint("devmail", __name__, url_prefix="/dev")
SHOWN = 50  # the newest messages; older files stay in the folder


@dataclass(frozen=True)
class DevMail:
    name: str
    sender: str
    recipients: str
    subject: str
    date: str
    text: str


def _read(path: Path) -> DevMail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    return DevMail(
        name=path.name,
        sender=str(message["From"] or ""),
        recipients=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=str(message["Date"] or ""),
        text=part.get_content() if part is not None else "",
    )


def received_mail(folder: Path, limit: int = SHOWN) -> list[DevMail]:
    """The newest `limit` messages in the sink's folder (file names sort by arrival)."""
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.eml"), reverse=True)[:limit]
    return [_read(path) for path in paths]


@bp.get("/mail")
@public
def mail() -> str:
    folder = dev_mail_folder(current_app.instance_path)
    return render_template("dev/mail.html", messages=received_mail(folder), folder=folder)
