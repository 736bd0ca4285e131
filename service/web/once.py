"""One filing per report form: the form's one-time token.

Each report form shown carries a fresh random token, signed with the day it was shown (the
day only: the token stays in the reporter's form and is never stored as it is). Filing records
a keyed hash of it (service/cases/intake.py `spend_form_token`) in the filing's own transaction,
so the case and the spent token are committed together or not at all: a crash in between
leaves the form unspent and nothing filed, and sending it again files it once. A reload of the
receipt page or a double click sends the same token again and files nothing more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from service.platform.clock import local_today

SALT = "homthu.report-form-once"
# A form shown today may be sent today or tomorrow (a form left open overnight still files);
# its spent hash is kept one day beyond that, then purged with the expired sessions.
VALID_DAYS = 2


@dataclass(frozen=True)
class FormToken:
    digest: str  # what the database keeps: HMAC-SHA-256 of the random part, keyed from SECRET_KEY
    purge_after: dt.date


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_form_token(today: dt.date | None = None) -> str:
    """A new token for a report form being shown."""
    today = today or local_today()
    return _serializer().dumps([secrets.token_urlsafe(32), today.isoformat()])


def read_form_token(token: str | None, today: dt.date | None = None) -> FormToken | None:
    """The token's hash and purge day; None if it is missing, forged or too old to send."""
    try:
        nonce, shown = _serializer().loads(token or "")
        shown_on = dt.date.fromisoformat(shown)
    except (BadData, ValueError, TypeError):
        return None
    today = today or local_today()
    if not today - dt.timedelta(days=VALID_DAYS - 1) <= shown_on <= today:
        return None
    key = hashlib.sha256(SALT.encode() + current_app.config["SECRET_KEY"].encode()).digest()
    digest = hmac.new(key, str(nonce).encode(), hashlib.sha256).hexdigest()
    return FormToken(digest, shown_on + dt.timedelta(days=VALID_DAYS))
