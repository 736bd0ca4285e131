"""Command-line tools: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

import secrets
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin.organisations import create_body, create_organisation
from service.audit.trail import Actor, record_event, verify_chain
from service.cases.handover import check_recovery_code, recover_access
from service.cases.intake import purge_spent_form_tokens
from service.cases.retention import apply_retention, expired_cases
from service.models import Account, Body, BodyKind, Organisation, Role
from service.people import twofactor
from service.people.accounts import create_account
from service.people.sessions import purge_expired_sessions
from service.platform.clock import utcnow
from service.platform.db import get_database
from service.platform.errors import DomainError, InvalidSubmission
from service.platform.unit_of_work import in_transaction, transaction

demo_cli = AppGroup("demo", help="The clearly marked demo organisation (development only).")
org_cli = AppGroup("org", help="Organisations.")
account_cli = AppGroup("account", help="Staff accounts.")
audit_cli = AppGroup("audit", help="The hash-chained audit trail.")
sessions_cli = AppGroup("sessions", help="Server-side login and follow-up sessions.")
keys_cli = AppGroup("keys", help="The bodies' paper recovery keys.")
retention_cli = AppGroup("retention", help="Destroying the content of old cases.")

DEMO_SLUG = "demo"
DEMO_ACCOUNTS = (
    ("CD", Role.CHAIR, "lan.cd@demo.invalid", "Nguyễn Thị Lan"),
    ("CD", Role.HANDLER, "minh.cd@demo.invalid", "Trần Văn Minh"),
    ("TTND", Role.CHAIR, "nam.ttnd@demo.invalid", "Lê Hoàng Nam"),
    ("TTND", Role.HANDLER, "ha.ttnd@demo.invalid", "Phạm Thu Hà"),
    (None, Role.ADMIN, "admin@demo.invalid", "Quản trị DEMO"),
)


def _profile():
    return current_app.extensions["homthu.kdf"]


def read_secret(label: str, *, confirm: bool = False) -> str:
    """A secret typed at a terminal without echo, or the first line of standard input otherwise.

    Never an argument or option: those are shown by `ps` to every user of the machine and kept
    in shell history. Standard input is read directly when it is no terminal, because getpass
    would open the controlling terminal instead and a pipe typed in a shell would still prompt.
    """
    stdin = sys.stdin  # CliRunner swaps it in tests
    if stdin.isatty():
        return click.prompt(
            f"{label} (not shown)", hide_input=True, confirmation_prompt=confirm, err=True
        )
    secret = stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.ClickException(f"{label}: nothing on standard input.")
    return secret


def _print_recovery_codes(new_bodies) -> None:
    click.echo("\nRecovery codes — print them, give each to the body's chair, keep on paper.")
    click.echo("They are shown once and stored nowhere:")
    for new in new_bodies:
        click.echo(f"  {new.body.code:5} {new.recovery_code}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the DEMO organisation with both bodies and two handlers each."""
    if current_app.config["HOMTHU_ENV"] == "production":
        raise click.ClickException("Demo data is never created in production.")
    with transaction() as db:
        if db.scalar(select(Organisation).where(Organisation.slug == DEMO_SLUG)):
            click.echo("The demo organisation exists already; its passwords were shown once when")
            click.echo("it was created. To start over, delete instance/homthu.sqlite3 and run")
            click.echo("`make run` again.")
            return
        organisation, bodies = create_organisation(
            db,
            name="Trung tâm Hội nghị tỉnh Khánh Hòa — DEMO",
            slug=DEMO_SLUG,
            profile=_profile(),
            is_demo=True,
        )
        by_code = {new.body.code: new.body for new in bodies}
        rows = []
        for code, role, email, name in DEMO_ACCOUNTS:
            password = "demo-" + secrets.token_urlsafe(9)
            account = create_account(
                db,
                organisation,
                email=email,
                display_name=name,
                role=role,
                password=password,
                profile=_profile(),
                body=by_code[code] if code else None,
            )
            db.flush()
            # Pre-enrolled in the two-step login: `demo totp EMAIL` prints the current code.
            twofactor.enrol(db, account, twofactor.new_secret(), utcnow())
            rows.append((code or "-", role, email, password))
    click.echo("DEMO organisation created. Staff log in at /board/login.")
    click.echo("Demo passwords (shown once, never again):")
    for code, role, email, password in rows:
        click.echo(f"  {code:5} {role:8} {email:24} {password}")
    click.echo("The login also asks for a code: `flask --app wsgi demo totp EMAIL` prints it.")
    _print_recovery_codes(bodies)


@demo_cli.command("totp")
@click.argument("email")
def demo_totp(email: str) -> None:
    """Print the current two-step login code of a DEMO account (development only)."""
    if current_app.config["HOMTHU_ENV"] == "production":
        raise click.ClickException("Codes are never printed in production.")
    with get_database().session() as db:
        account = db.scalar(
            select(Account)
            .join(Organisation, Organisation.id == Account.organisation_id)
            .where(Organisation.is_demo.is_(True), Account.email == email.strip().lower())
        )
        secret = twofactor.open_secret(account) if account else None
        if secret is None:
            raise click.ClickException(f"No enrolled demo account {email!r}.")
        code = twofactor.current_code(secret, utcnow())
        left = twofactor.INTERVAL - int(utcnow().timestamp()) % twofactor.INTERVAL
    click.echo(f"{code}   (valid for about {left} more seconds, once)")


@org_cli.command("create")
@click.option("--name", required=True, help="Full name of the unit.")
@click.option("--slug", required=True, help="Short identifier, e.g. ttht-khanhhoa.")
def org_create(name: str, slug: str) -> None:
    """Create an organisation with the Trade Union and the Inspection Board."""
    with transaction() as db:
        if db.scalar(select(Organisation).where(Organisation.slug == slug)):
            raise click.ClickException(f"An organisation {slug!r} exists already.")
        _organisation, bodies = create_organisation(db, name=name, slug=slug, profile=_profile())
    click.echo(f"Organisation {slug!r} created.")
    _print_recovery_codes(bodies)


@org_cli.command("add-body")
@click.option("--org", "slug", required=True, help="Organisation slug.")
@click.option("--code", required=True, help="Short code, prefix of case references, e.g. TTDV.")
@click.option("--kind", type=click.Choice([k.value for k in BodyKind]), required=True)
@click.option("--name-vi", required=True, help="Vietnamese name, e.g. Thủ trưởng đơn vị.")
@click.option("--name-en", required=True, help="English name, e.g. Head of unit.")
def org_add_body(slug: str, code: str, kind: str, name_vi: str, name_en: str) -> None:
    """Add a body (e.g. the head of unit); prints its recovery code once."""
    with transaction() as db:
        organisation = db.scalar(select(Organisation).where(Organisation.slug == slug))
        if organisation is None:
            raise click.ClickException(f"No organisation {slug!r}.")
        try:
            new = create_body(
                db,
                organisation,
                code=code,
                kind=BodyKind(kind),
                name_vi=name_vi,
                name_en=name_en,
            )
        except InvalidSubmission as error:
            raise click.ClickException(str(error.message)) from None
    click.echo(f"Body {new.body.code} added to {slug!r}.")
    _print_recovery_codes([new])


@account_cli.command("add")
@click.option("--org", "slug", required=True, help="Organisation slug.")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--body", "body_code", help="Body code (CD, TTND) for handlers and chairs.")
def account_add(slug: str, email: str, name: str, role: str, body_code: str | None) -> None:
    """Add a staff account with its own key pair.

    The password is asked for without echo, or read from standard input's first line.
    """
    password = read_secret("Password", confirm=True)
    with transaction() as db:
        organisation = db.scalar(select(Organisation).where(Organisation.slug == slug))
        if organisation is None:
            raise click.ClickException(f"No organisation {slug!r}.")
        body = None
        if body_code:
            body = db.scalar(
                select(Body).where(
                    Body.organisation_id == organisation.id, Body.code == body_code.upper()
                )
            )
            if body is None:
                raise click.ClickException(f"No body {body_code!r} in {slug!r}.")
        try:
            create_account(
                db,
                organisation,
                email=email,
                display_name=name,
                role=Role(role),
                password=password,
                profile=_profile(),
                body=body,
            )
        except InvalidSubmission as error:
            raise click.ClickException(str(error.message)) from None
    click.echo(f"Account {email} added.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk every organisation's hash chain; exit 1 naming the first broken row."""
    broken = False
    # A read-only session: on SQLite it takes no write lock while it walks the chain.
    with get_database().read_sessionmaker() as db:
        for organisation in db.scalars(select(Organisation).order_by(Organisation.id)):
            report = verify_chain(db, organisation.id)
            if report.ok:
                click.echo(f"{organisation.slug}: {report.events} events, head {report.head_hash}")
            else:
                broken = True
                click.echo(
                    f"{organisation.slug}: BROKEN at event #{report.broken_seq} "
                    f"({report.problem}); {report.events} events before it are intact",
                    err=True,
                )
    sys.exit(1 if broken else 0)


@sessions_cli.command("purge")
@in_transaction
def sessions_purge(db: Session) -> None:
    """Delete expired sessions (run daily from cron)."""
    staff, reporters = purge_expired_sessions(db)
    forms = purge_spent_form_tokens(db)
    click.echo(f"Deleted {staff} expired staff and {reporters} expired follow-up sessions.")
    click.echo(f"Forgot {forms} report form(s) sent more than a day ago.")


@account_cli.command("reset-2fa")
@click.option("--org", "slug", help="Organisation slug (default: the only one).")
@click.option("--email", required=True)
def account_reset_2fa(slug: str | None, email: str) -> None:
    """Make an account set up its two-step login again at its next login (lost phone and no
    recovery code left, or SECRET_KEY changed). The password and keys stay."""
    with transaction() as db:
        organisation = _organisation(db, slug)
        account = db.scalar(
            select(Account).where(
                Account.organisation_id == organisation.id,
                Account.email == email.strip().lower(),
            )
        )
        if account is None:
            raise click.ClickException(f"No account {email!r}.")
        twofactor.forget(db, account)
        record_event(
            db,
            organisation_id=organisation.id,
            action="staff.two_factor_reset",
            actor=Actor.system(),
            details={"account": account.id},
        )
    click.echo(f"{email} sets up the two-step login again at the next login.")


def _organisation(db, slug: str | None) -> Organisation:
    slug = slug or current_app.config["ORGANISATION"]
    query = select(Organisation).order_by(Organisation.id).limit(2)
    if slug:
        query = query.where(Organisation.slug == slug)
    found = list(db.scalars(query))
    if len(found) != 1:
        raise click.ClickException("Say which organisation with --org SLUG.")
    return found[0]


@keys_cli.command("recover")
@click.option("--org", "slug", help="Organisation slug (default: the only one).")
@click.option("--body", "body_code", required=True, help="Body code, e.g. CD.")
@click.option("--grant-to", "email", required=True, help="Email of the handler or chair.")
def keys_recover(slug: str | None, body_code: str, email: str) -> None:
    """Grant every case of a body to a handler or chair with the body's paper recovery key.

    The key is read from standard input without echo, never from the command line (which
    other users of the machine and the shell history would see).
    """
    code = read_secret(f"Recovery key of {body_code.upper()}")
    with transaction() as db:
        organisation = _organisation(db, slug)
        body = db.scalar(
            select(Body).where(
                Body.organisation_id == organisation.id, Body.code == body_code.strip().upper()
            )
        )
        grantee = db.scalar(
            select(Account).where(
                Account.organisation_id == organisation.id,
                Account.email == email.strip().lower(),
            )
        )
        if body is None or grantee is None:
            raise click.ClickException("No such body or account in this organisation.")
        try:
            private = check_recovery_code(body, code)

            def progress(cases):
                with click.progressbar(cases, label="Granting", file=sys.stderr) as bar:
                    yield from bar

            result = recover_access(db, body, private, grantee, progress=progress)
        except DomainError as error:
            raise click.ClickException(str(error.message)) from None
    click.echo(
        f"{email}: {result.granted} cases granted, {result.already} held already, "
        f"{result.excluded} skipped (the reporter excluded this person)."
    )


@retention_cli.command("apply")
@click.option("--org", "slug", help="Organisation slug (default: the only one).")
@click.option("--dry-run", is_flag=True, help="List what would be destroyed; change nothing.")
def retention_apply(slug: str | None, dry_run: bool) -> None:
    """Destroy the content and keys of cases past their retention period; keep the numbers."""
    from service.platform.clock import local_today

    # apply_retention commits each case itself (unit-of-work exception: retention-per-case).
    with transaction() as db:
        organisation = _organisation(db, slug)
        if dry_run:
            expired = expired_cases(db, organisation.id, local_today())
            for item in expired:
                click.echo(
                    f"  {item.reference:16} {item.status:13} since {item.since} "
                    f"(expired {item.expired_on})"
                )
            click.echo(f"{len(expired)} cases would be destroyed (dry run: nothing changed).")
            return

        def progress(items):
            with click.progressbar(items, label="Destroying", file=sys.stderr) as bar:
                yield from bar

        done = apply_retention(db, organisation.id, progress=progress)
    for item in done:
        click.echo(f"  {item.reference:16} {item.status:13} since {item.since}")
    click.echo(f"{len(done)} cases destroyed.")


def register_commands(app: Flask) -> None:
    from service.cli.dev import dev_cli
    from service.cli.mail import MAIL_COMMAND_GROUPS

    for group in (
        demo_cli,
        org_cli,
        account_cli,
        audit_cli,
        sessions_cli,
        keys_cli,
        retention_cli,
        dev_cli,
        *MAIL_COMMAND_GROUPS,
    ):
        app.cli.add_command(group)
