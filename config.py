"""Settings from environment variables.

Every setting the application reads is listed in `SETTINGS` with its default and a one-line
description; the README's configuration table is checked against this list by a test, so the
two cannot drift apart.

`HOMTHU_ENV` picks the mode. It defaults to *production*: a deployment that forgets to say what
it is gets the strict checks (a real `SECRET_KEY`, no demo data, secure cookies), never the
development conveniences. `make run` sets `HOMTHU_ENV=development`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import limits

ROOT = Path(__file__).resolve().parent


def instance_dir() -> Path:
    """The instance folder as the environment names it now (create_app reads it each time)."""
    return Path(os.environ.get("HOMTHU_INSTANCE_DIR", ROOT / "instance"))


INSTANCE_DIR = instance_dir()

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(RuntimeError):
    """The environment does not describe a configuration the application may start with."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting("HOMTHU_ENV", "production", "`production`, `development` or `testing`."),
    Setting(
        "SECRET_KEY",
        None,
        "Signs cookies and CSRF tokens. Required in production, random (see `secret_key_problem`); "
        "development keeps a random one in `instance/`.",
    ),
    Setting(
        "FLASK_DEBUG", "", "Flask's debugger (runs code a visitor sends): refused in production."
    ),
    Setting("DEBUG", "", "Read only to refuse it in production, like FLASK_DEBUG."),
    Setting(
        "HSTS_MAX_AGE",
        "31536000",
        "Production: seconds browsers use only HTTPS for the site (Strict-Transport-Security).",
    ),
    Setting(
        "DATABASE_URL",
        "sqlite:///instance/homthu.sqlite3",
        "SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/homthu`.",
    ),
    Setting("PUBLIC_BASE_URL", "http://127.0.0.1:5000", "Address used in links inside mail."),
    Setting("ORGANISATION", "", "Slug of the organisation this site serves (empty: the only one)."),
    Setting("MAIL_SERVER", "localhost", "SMTP host (Flask-Mail)."),
    Setting("MAIL_PORT", "25", "SMTP port."),
    Setting("MAIL_USE_TLS", "false", "STARTTLS."),
    Setting("MAIL_USE_SSL", "false", "SMTP over TLS."),
    Setting("MAIL_USERNAME", "", "SMTP user name."),
    Setting("MAIL_PASSWORD", "", "SMTP password."),
    Setting("MAIL_DEFAULT_SENDER", "homthu@localhost", "From: address of every mail."),
    Setting("MAIL_TIMEOUT", "30", "Seconds an SMTP connection may stall before the send fails."),
    Setting("OUTBOX_MAX_ATTEMPTS", "16", "Delivery attempts before a mail is marked failed."),
    Setting(
        "OUTBOX_RETRY_SECONDS", "60", "Delay after the first failed attempt; doubles after each."
    ),
    Setting("OUTBOX_RETRY_MAX_SECONDS", "21600", "Longest delay between two attempts."),
    Setting(
        "OUTBOX_LEASE_SECONDS",
        "600",
        "SQLite only: how long a claimed mail is held by its worker before another may retry it.",
    ),
    Setting("OUTBOX_POLL_SECONDS", "15", "`outbox send --loop`: pause when nothing is due."),
    Setting("MAX_ATTACHMENT_MB", "20", "Largest single attachment, in MB."),
    Setting("MAX_ATTACHMENTS", "5", "Attachments per report or message."),
    Setting(
        "ARGON2_PROFILE",
        "production",
        "`production` (19 MiB, 2 passes, OWASP minimum) or `fast` (tests only; refused elsewhere).",
    ),
    Setting("STAFF_IDLE_MINUTES", "30", "A staff session ends after this much inactivity."),
    Setting("STAFF_ABSOLUTE_HOURS", "8", "A staff session ends this long after login."),
    Setting("REPORTER_IDLE_MINUTES", "15", "A reporter's follow-up session ends after this."),
    Setting("INVITE_HOURS", "72", "An invitation or password-reset link works for this long."),
    Setting(
        "NOTIFY_HOURS",
        "8,10,12,14,16",
        "Local hours at which mail caused by a reporter leaves, so no mail dates their action.",
    ),
    Setting(
        "REPORT_SUPERIOR_BODY", "", "The superior body's line in the reports' header (empty: …)."
    ),
    Setting(
        "REPORT_YEAR_START",
        "10-15",
        "MM-DD the reporting year starts (in the previous calendar year unless 01-01).",
    ),
    Setting(
        "REOPEN_WINDOW_DAYS",
        "30",
        "Days after a decision during which the reporter may ask for the case to be reopened.",
    ),
    Setting(
        "PUBLICATION_DAYS",
        "20",
        "Days an approved public summary stays on /results before the chair may withdraw it.",
    ),
    Setting(
        "PROXY_HOPS",
        "0",
        "Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed (0: none).",
    ),
    Setting("RATELIMIT_ENABLED", "true", "Per-address limits (Flask-Limiter); `false` turns off."),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "memory://",
        "Where the limiter counts: `memory://` (one process) or `redis://127.0.0.1:6379/0`.",
    ),
    Setting(
        "LIMIT_RECEIPT_FAILURES",
        "10 per 10 minutes",
        "Wrong receipt codes per address before the follow-up login refuses (429).",
    ),
    Setting("LIMIT_FILINGS", "20 per hour", "Report submissions per address."),
    Setting("LIMIT_MESSAGES", "30 per hour", "Reporters' follow-up messages per address."),
    Setting("LIMIT_STAFF_LOGIN_FAILURES", "30 per 10 minutes", "Failed staff logins per address."),
    Setting(
        "LIMIT_LINK_FAILURES",
        "20 per hour",
        "Unknown or expired invitation/password-reset links tried per address.",
    ),
    Setting(
        "FILINGS_ALERT_PER_DAY",
        "200",
        "Reports a day (whole site) above which the administrators get one mail that day.",
    ),
    Setting("LOG_LEVEL", "INFO", "Python logging level."),
    Setting("HOMTHU_INSTANCE_DIR", "instance", "Folder for the embedded database and dev secret."),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}


def _get(env: dict[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else _DEFAULTS[name]


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str) -> int:
    text = _get(env, name)
    try:
        return int(text or "")
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None


def _at_least(env: dict[str, str], name: str, *, minimum: int) -> int:
    value = _int(env, name)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _hours(env: dict[str, str], name: str) -> tuple[int, ...]:
    text = _get(env, name) or ""
    try:
        hours = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise ConfigError(f"{name} must be hours of the day separated by commas") from None
    if not hours or not all(0 <= hour <= 23 for hour in hours):
        raise ConfigError(f"{name} must list at least one hour between 0 and 23")
    return hours


def _month_day(env: dict[str, str], name: str) -> tuple[int, int]:
    text = _get(env, name) or ""
    try:
        month, day = (int(part) for part in text.split("-"))
        dt.date(2001, month, day)  # a real day of a year without 29 February
    except ValueError:
        raise ConfigError(f"{name} must be a day of the year as MM-DD, not {text!r}") from None
    return month, day


LIMIT_SETTINGS = (
    "LIMIT_RECEIPT_FAILURES",
    "LIMIT_FILINGS",
    "LIMIT_MESSAGES",
    "LIMIT_STAFF_LOGIN_FAILURES",
    "LIMIT_LINK_FAILURES",
)


def _rate(env: dict[str, str], name: str) -> str:
    """A limit in Flask-Limiter's notation ("20 per hour", "10/10 minutes"), checked now."""
    text = (_get(env, name) or "").strip()
    try:
        limits.parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be a limit like '20 per hour', not {text!r}") from None
    return text


def _rate_limits(env: dict[str, str]) -> dict[str, Any]:
    storage = (_get(env, "RATELIMIT_STORAGE_URI") or "").strip()
    if not storage.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        raise ConfigError(f"RATELIMIT_STORAGE_URI must be memory:// or redis://…, not {storage!r}")
    return {
        "PROXY_HOPS": _at_least(env, "PROXY_HOPS", minimum=0),
        "RATELIMIT_ENABLED": _bool(_get(env, "RATELIMIT_ENABLED")),
        "RATELIMIT_STORAGE_URI": storage,
        # A Redis outage must not take the site down: count in memory until it is back.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "homthu",
        **{name: _rate(env, name) for name in LIMIT_SETTINGS},
        "FILINGS_ALERT_PER_DAY": _at_least(env, "FILINGS_ALERT_PER_DAY", minimum=1),
    }


SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_BITS = 90
MAKE_A_KEY = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


def secret_key_problem(key: str) -> str | None:
    """Why `key` is unfit for production, or None.

    The rule: at least 32 characters; not one shorter piece repeated (`abab…`); and at least
    90 bits by a simple estimate, the key's length times the Shannon entropy of its own character
    counts (`aaaa…` scores 0; a random 32-digit hex key about 115, `token_urlsafe(48)` about
    300). It catches a typed or padded key, not every pattern: generate the key, never type it.
    """
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is too short for production: use at least {SECRET_KEY_MIN_LENGTH} characters"
    if key in (key + key)[1:-1]:
        return "is easy to guess: it is one shorter piece repeated"
    if _estimated_bits(key) < SECRET_KEY_MIN_BITS:
        return (
            f"is easy to guess: its characters carry fewer than {SECRET_KEY_MIN_BITS} bits "
            "(too few different ones, or one used too often)"
        )
    return None


def _estimated_bits(text: str) -> float:
    counts = Counter(text).values()
    return -sum(count * math.log2(count / len(text)) for count in counts)


def _debug_requested(env: Mapping[str, str]) -> str | None:
    """Which of FLASK_DEBUG and DEBUG asks for debug mode, read as Flask reads FLASK_DEBUG:
    anything but empty, 0, false or no turns it on."""
    for name in ("FLASK_DEBUG", "DEBUG"):
        if (env.get(name) or "").strip().lower() not in {"", "0", "false", "no"}:
            return name
    return None


def refuse_unsafe_production(config: Mapping[str, Any]) -> None:
    """Raise ConfigError if a production configuration (after any overrides) is unsafe."""
    if config.get("DEBUG"):
        raise ConfigError(
            "Debug mode is on in production: the debugger would run any code a visitor sends. "
            "Unset FLASK_DEBUG and DEBUG."
        )
    for name in ("SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY"):
        if not config.get(name):
            raise ConfigError(f"{name} is off in production: cookies must be Secure and HttpOnly.")


def _sqlite_url_under_root(url: str) -> str:
    """Resolve a relative SQLite path against the project root, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(ROOT / url[len(prefix) :])
    return url


def _development_secret() -> str:
    """A random key kept in instance/ so development sessions survive a restart."""
    path = INSTANCE_DIR / "dev-secret-key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)  # only its owner enters it
        # Created private, never readable by others even for a moment.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _secret_key(env: dict[str, str], mode: str) -> str:
    secret = _get(env, "SECRET_KEY")
    if not secret:
        if mode == "production":
            raise ConfigError(f"SECRET_KEY must be set in production; {MAKE_A_KEY}")
        return _development_secret() if mode == "development" else secrets.token_urlsafe(48)
    problem = secret_key_problem(secret) if mode == "production" else None
    if problem:
        raise ConfigError(f"SECRET_KEY {problem}; {MAKE_A_KEY}")
    return secret


def load_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables (os.environ by default)."""
    env = dict(os.environ if environ is None else environ)
    mode = _get(env, "HOMTHU_ENV") or "production"
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"HOMTHU_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")

    debug = _debug_requested(env) if mode == "production" else None
    if debug:
        raise ConfigError(
            f"{debug} is on in production: the debugger would run any code a visitor sends. "
            "Unset it (or set it to 0)."
        )
    secret = _secret_key(env, mode)

    profile = _get(env, "ARGON2_PROFILE")
    if profile not in ("production", "fast"):
        raise ConfigError("ARGON2_PROFILE must be 'production' or 'fast'.")
    if profile == "fast" and mode != "testing":
        raise ConfigError("ARGON2_PROFILE=fast is for tests only.")

    year_start = _month_day(env, "REPORT_YEAR_START")
    max_mb = _int(env, "MAX_ATTACHMENT_MB")
    max_files = _int(env, "MAX_ATTACHMENTS")
    hsts_max_age = _at_least(env, "HSTS_MAX_AGE", minimum=0)  # 0 tells browsers to forget it
    config = {
        "HOMTHU_ENV": mode,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret,
        "DATABASE_URL": _sqlite_url_under_root(_get(env, "DATABASE_URL") or ""),
        "PUBLIC_BASE_URL": (_get(env, "PUBLIC_BASE_URL") or "").rstrip("/"),
        "ORGANISATION": _get(env, "ORGANISATION") or "",
        "MAIL_SERVER": _get(env, "MAIL_SERVER"),
        "MAIL_PORT": _int(env, "MAIL_PORT"),
        "MAIL_USE_TLS": _bool(_get(env, "MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(_get(env, "MAIL_USE_SSL")),
        "MAIL_USERNAME": _get(env, "MAIL_USERNAME") or None,
        "MAIL_PASSWORD": _get(env, "MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": _get(env, "MAIL_DEFAULT_SENDER"),
        "MAIL_TIMEOUT": _int(env, "MAIL_TIMEOUT"),
        # Never let Flask-Mail drop mail silently in tests: the outbox is what tests look at,
        # and delivery tests use a real SMTP server.
        "MAIL_SUPPRESS_SEND": False,
        "OUTBOX_MAX_ATTEMPTS": max(1, _int(env, "OUTBOX_MAX_ATTEMPTS")),
        "OUTBOX_RETRY_SECONDS": max(1, _int(env, "OUTBOX_RETRY_SECONDS")),
        "OUTBOX_RETRY_MAX_SECONDS": max(1, _int(env, "OUTBOX_RETRY_MAX_SECONDS")),
        "OUTBOX_LEASE_SECONDS": max(1, _int(env, "OUTBOX_LEASE_SECONDS")),
        "OUTBOX_POLL_SECONDS": max(1, _int(env, "OUTBOX_POLL_SECONDS")),
        "REPORT_SUPERIOR_BODY": _get(env, "REPORT_SUPERIOR_BODY") or "",
        "REPORT_YEAR_START": year_start,
        "MAX_ATTACHMENT_BYTES": max_mb * 1024 * 1024,
        "MAX_ATTACHMENTS": max_files,
        # The whole request may carry every attachment plus the form itself.
        "MAX_CONTENT_LENGTH": max_files * max_mb * 1024 * 1024 + 1024 * 1024,
        "ARGON2_PROFILE": profile,
        "STAFF_IDLE_MINUTES": _int(env, "STAFF_IDLE_MINUTES"),
        "STAFF_ABSOLUTE_HOURS": _int(env, "STAFF_ABSOLUTE_HOURS"),
        "REPORTER_IDLE_MINUTES": _int(env, "REPORTER_IDLE_MINUTES"),
        "INVITE_HOURS": _int(env, "INVITE_HOURS"),
        "NOTIFY_HOURS": _hours(env, "NOTIFY_HOURS"),
        "REOPEN_WINDOW_DAYS": _at_least(env, "REOPEN_WINDOW_DAYS", minimum=0),
        # The law asks for at least 20 days (Law on Grassroots Democracy): never fewer.
        "PUBLICATION_DAYS": _at_least(env, "PUBLICATION_DAYS", minimum=20),
        "LOG_LEVEL": (_get(env, "LOG_LEVEL") or "INFO").upper(),
        # Cookies: never readable by scripts, never sent cross-site, HTTPS-only outside development.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": mode == "production",
        # Only production is served over HTTPS; elsewhere the header would pin localhost.
        "HSTS_MAX_AGE": hsts_max_age if mode == "production" else None,
        "WTF_CSRF_TIME_LIMIT": 3600,
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        **_rate_limits(env),
    }
    if mode == "production":
        refuse_unsafe_production(config)
    return config
