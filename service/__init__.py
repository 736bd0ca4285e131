"""The Flask application: `create_app()` builds it (flaskr's application factory)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from sqlalchemy import inspect, select

from config import ConfigError, instance_dir, load_config, refuse_unsafe_production
from service.platform import db as database
from service.platform import settings as platform_settings
from service.platform import unit_of_work
from service.platform.extensions import babel, csrf, login_manager
from service.platform.extensions import mail as mailer
from service.platform.logs import Application, configure_logging
from service.sealing.profiles import profile_named

ROOT = Path(__file__).resolve().parent.parent
# At most this many receipts derive at once per process (19 MiB of memory each).
RECEIPT_THREADS = 4


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application from environment settings, with `overrides` applied on top."""
    app = Application(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(instance_dir()),
    )
    app.config.update(load_config())
    app.config.update(overrides or {})
    if app.config["HOMTHU_ENV"] == "production":
        refuse_unsafe_production(app.config)  # again: overrides and Flask's own DEBUG
    settings = platform_settings.init_app(app)
    app.extensions["homthu.kdf"] = profile_named(app.config["ARGON2_PROFILE"])
    # Long-lived threads for filings' receipt derivations (see intake.PendingReceipt).
    app.extensions["homthu.receipts"] = ThreadPoolExecutor(
        max_workers=RECEIPT_THREADS, thread_name_prefix="receipt"
    )

    from service.web.uploads import HomthuRequest

    app.request_class = HomthuRequest
    configure_logging(app)
    # What the session carries for the adapters that need it wherever they are called from:
    # the mail settings, and SECRET_KEY for the server-secret sealer.
    database.init_app(
        app,
        session_info={
            platform_settings.MAIL_SESSION_INFO: settings.mail,
            platform_settings.SERVER_SECRET_INFO: app.config["SECRET_KEY"],
        },
    )
    unit_of_work.init_app(app)
    _init_extensions(app)
    _register_web(app)
    _register_cli(app)
    if app.config["HOMTHU_ENV"] == "production":
        _refuse_demo_data(app)
    return app


def _init_extensions(app: Flask) -> None:
    from service.web.access import load_staff_user
    from service.web.common import select_locale
    from service.web.errors import staff_unauthorized

    app.config.setdefault("WTF_I18N_ENABLED", False)  # our forms translate their own messages
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    csrf.init_app(app)
    mailer.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # it would hash the client's address into a cookie
    login_manager.request_loader(load_staff_user)
    login_manager.unauthorized_handler(staff_unauthorized)


def _register_web(app: Flask) -> None:
    from service.web import account, admin, board, limits, public
    from service.web.access import refuse_undeclared_views
    from service.web.common import load_organisation
    from service.web.errors import register_error_handlers
    from service.web.session_cookies import AreaSessionInterface
    from service.web.templating import register_template_helpers

    app.session_interface = AreaSessionInterface()
    app.register_blueprint(public.bp)
    app.register_blueprint(board.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    if app.config["HOMTHU_ENV"] == "development":
        from service.web import devmail  # the mail the local sink received; nowhere else

        app.register_blueprint(devmail.bp)
    # The limiter's check is registered after CSRFProtect's, and start_filing_receipt after both:
    # only a filing with a valid token and session cookie, within its limits, starts its
    # Argon2id; it still overlaps the form, the routing and the writes.
    limits.init_app(app)
    app.before_request(public.start_filing_receipt)
    app.before_request(refuse_undeclared_views)
    app.before_request(load_organisation)
    app.after_request(_security_headers)
    register_error_handlers(app)
    register_template_helpers(app)


def _security_headers(response: Response) -> Response:
    # Nothing from another host, no inline script, no framing, no referrer leaking a path.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    max_age = current_app.config["HSTS_MAX_AGE"]
    if max_age is not None:  # production only: browsers then never try plain HTTP first
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response


def _register_cli(app: Flask) -> None:
    from service.cli.commands import register_commands
    from service.platform.migrate import db_cli

    app.cli.add_command(db_cli)
    register_commands(app)


def _refuse_demo_data(app: Flask) -> None:
    """Production must never serve the demo organisation or its known passwords."""
    from service.models import Organisation

    engine = database.get_database(app).engine
    if not inspect(engine).has_table("organisation"):
        return  # nothing migrated yet, so no demo data either
    with engine.connect() as connection:
        demo = connection.execute(
            select(Organisation.slug).where(Organisation.is_demo.is_(True))
        ).first()
    if demo is not None:
        raise ConfigError(
            f"Demo data (organisation {demo.slug!r}) is present: production refuses to start. "
            "Use a fresh database for production."
        )
