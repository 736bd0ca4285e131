"""Command-line tools: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

import secrets
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .accounts import create_account, create_organisation
from .audit import verify_chain
from .db import get_database
from .errors import InvalidSubmission
from .models import Body, Organisation, Role
from .sessions import purge_expired_sessions

demo_cli = AppGroup("demo", help="The clearly marked demo organisation (development only).")
org_cli = AppGroup("org", help="Organisations.")
account_cli = AppGroup("account", help="Staff accounts.")
audit_cli = AppGroup("audit", help="The hash-chained audit trail.")
sessions_cli = AppGroup("sessions", help="Server-side login and follow-up sessions.")

DEMO_SLUG = "demo"
DEMO_ACCOUNTS = (
    ("CD", Role.CHAIR, "lan.cd@demo.invalid", "Nguyễn Thị Lan"),
    ("CD", Role.HANDLER, "minh.cd@demo.invalid", "Trần Văn Minh"),
    ("TTND", Role.CHAIR, "nam.ttnd@demo.invalid", "Lê Hoàng Nam"),
    ("TTND", Role.HANDLER, "ha.ttnd@demo.invalid", "Phạm Thu Hà"),
)


def _profile():
    return current_app.extensions["homthu.kdf"]


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
    with get_database().session() as db:
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
            create_account(
                db,
                organisation,
                email=email,
                display_name=name,
                role=role,
                password=password,
                profile=_profile(),
                body=by_code[code],
            )
            rows.append((code, role, email, password))
        db.commit()
    click.echo("DEMO organisation created. Staff log in at /board/login.")
    click.echo("Demo passwords (shown once, never again):")
    for code, role, email, password in rows:
        click.echo(f"  {code:5} {role:8} {email:24} {password}")
    _print_recovery_codes(bodies)


@org_cli.command("create")
@click.option("--name", required=True, help="Full name of the unit.")
@click.option("--slug", required=True, help="Short identifier, e.g. ttht-khanhhoa.")
def org_create(name: str, slug: str) -> None:
    """Create an organisation with the Trade Union and the Inspection Board."""
    with get_database().session() as db:
        if db.scalar(select(Organisation).where(Organisation.slug == slug)):
            raise click.ClickException(f"An organisation {slug!r} exists already.")
        _organisation, bodies = create_organisation(db, name=name, slug=slug, profile=_profile())
        db.commit()
    click.echo(f"Organisation {slug!r} created.")
    _print_recovery_codes(bodies)


@account_cli.command("add")
@click.option("--org", "slug", required=True, help="Organisation slug.")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--body", "body_code", help="Body code (CD, TTND) for handlers and chairs.")
@click.password_option(help="Asked for when not given.")
def account_add(
    slug: str, email: str, name: str, role: str, body_code: str | None, password: str
) -> None:
    """Add a staff account with its own key pair."""
    with get_database().session() as db:
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
        db.commit()
    click.echo(f"Account {email} added.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk every organisation's hash chain; exit 1 naming the first broken row."""
    broken = False
    with get_database().session() as db:
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
def sessions_purge() -> None:
    """Delete expired sessions (run daily from cron)."""
    with get_database().session() as db:
        staff, reporters = purge_expired_sessions(db)
    click.echo(f"Deleted {staff} expired staff and {reporters} expired follow-up sessions.")


def register_commands(app: Flask) -> None:
    for group in (demo_cli, org_cli, account_cli, audit_cli, sessions_cli):
        app.cli.add_command(group)
