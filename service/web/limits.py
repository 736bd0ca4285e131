"""Rate limits per client address (Flask-Limiter), and who the limiter believes the client is.

What is limited, per address (settings in config.py, defaults generous for an office whose staff
share one address): wrong receipt codes at the follow-up login, report submissions, reporters'
messages, failed staff logins, unknown invitation/reset links. A refused request gets a 429 page
in the user's language that says when to try again (service/web/errors.py), with Retry-After.

Only failures count where Flask-Limiter can tell them by the response (`deduct_when`): a wrong
receipt (403), a failed login (401), an unknown or spent link (410). A filing or a message
counts whether or not it was accepted: each one with a valid CSRF token costs an Argon2id.

The address: `request.remote_addr`, after ProxyFix has believed exactly PROXY_HOPS proxies'
X-Forwarded-For (none by default, so nobody can choose their own address by sending the header).
It is used only here, as a keyed hash that changes daily (service/sealing/addresses.py): the
limiter's storage (memory, or Redis in production) holds only that hash; nothing of it reaches the
database, a log line (Flask-Limiter's own "exceeded" log line is silenced) or mail.

Per organisation: this site serves one organisation, so the site-wide filing count is the
organisation's. It never refuses a reporter: above FILINGS_ALERT_PER_DAY, the administrators get
one mail that day (`note_filing`). No site-wide limit on receipts either: a receipt cannot be
guessed, and a site-wide cap would let anyone lock every reporter out of their case.

One Limiter per application (tests build many applications), kept in `app.extensions`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limit, Limiter
from limits import RateLimitItemPerDay
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from service.platform.clock import utcnow
from service.sealing.addresses import address_tag

EXTENSION = "homthu.limiter"


@dataclass(frozen=True)
class RouteLimit:
    endpoint: str
    setting: str  # the config key holding the limit, e.g. "LIMIT_FILINGS"
    counts: Callable[[Response], bool] | None = None  # None: every request limited counts
    methods: tuple[str, ...] | None = ("POST",)  # None: every method


def _status(code: int) -> Callable[[Response], bool]:
    def counts(response: Response) -> bool:
        return response.status_code == code

    return counts


ROUTE_LIMITS = (
    RouteLimit("public.follow_up", "LIMIT_RECEIPT_FAILURES", _status(403)),
    RouteLimit("public.write", "LIMIT_FILINGS"),
    RouteLimit("public.send_message", "LIMIT_MESSAGES"),
    RouteLimit("board.login", "LIMIT_STAFF_LOGIN_FAILURES", _status(401)),
    # A link is guessed by GET as well as by POST.
    RouteLimit("account.invite", "LIMIT_LINK_FAILURES", _status(410), methods=None),
)


def client_key() -> str:
    """The limiter's name for this client today: a keyed hash of its address, never the address."""
    # The one reader of the address (lint rule no-client-address-or-user-agent): hashed at once.
    # ast-grep-ignore: no-client-address-or-user-agent
    address = request.remote_addr or "unknown"
    return address_tag(current_app.config["SECRET_KEY"], address, utcnow().date())


def init_app(app: Flask) -> None:
    """Trust PROXY_HOPS proxies, then put the limits on their routes (after the blueprints)."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    # Its "ratelimit … exceeded" line would log a client's hash, the time and the path.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    # "Default" limits, each exempt outside its own route: Flask-Limiter checks those in its
    # before_request (a decorated view's limit only when the view runs), so a refused filing
    # never reaches start_filing_receipt and its Argon2id.
    limiter = Limiter(client_key, app=app, default_limits=[_limit(route) for route in ROUTE_LIMITS])
    app.extensions[EXTENSION] = limiter


def _limit(route: RouteLimit) -> Limit:
    return Limit(
        lambda: current_app.config[route.setting],
        methods=route.methods,
        exempt_when=lambda: request.endpoint != route.endpoint,
        deduct_when=route.counts,
    )


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets the client in again (at least 1)."""
    limiter: Limiter = current_app.extensions[EXTENSION]
    limit = limiter.current_limit
    if limit is None:
        return 60
    # reset_at is rounded up to a whole second: never say more than the window itself.
    window = limit.limit.get_expiry()
    return max(1, min(window, math.ceil(limit.reset_at - time.time())))


# --- the site-wide daily filing count ----------------------------------------------------------

ALERT_ONCE = RateLimitItemPerDay(1)


def unusual_filing_volume() -> bool:
    """Count one filing for the whole site; True exactly once a day, when the day's count first
    goes past FILINGS_ALERT_PER_DAY (then the caller alerts the administrators).

    The counts live in the limiter's storage, outside the filing's transaction: a filing whose
    commit then fails still counted, and if it was the one to alert, that day's mail is lost
    with it. Advice, not bookkeeping: the next day's count starts afresh."""
    limiter: Limiter | None = current_app.extensions.get(EXTENSION)
    if limiter is None or not limiter.enabled:
        return False
    budget = RateLimitItemPerDay(current_app.config["FILINGS_ALERT_PER_DAY"])
    try:
        if limiter.limiter.hit(budget, "homthu", "site-filings"):
            return False
        return limiter.limiter.hit(ALERT_ONCE, "homthu", "site-filings-alerted")
    except Exception:  # the count is advice: a storage outage must not fail a filing
        logging.getLogger(__name__).warning("the daily filing count is unavailable")
        return False
