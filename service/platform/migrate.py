"""`flask db ...`: Alembic behind the application's own configuration."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` to `revision` (what tests and `make run` call)."""
    command.upgrade(alembic_config(database_url), revision)


def _config() -> Config:
    return alembic_config(current_app.config["DATABASE_URL"])


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(_config(), revision)


@db_cli.command("current")
def current_command() -> None:
    """Show the schema revision of the database."""
    command.current(_config(), verbose=True)


@db_cli.command("history")
def history_command() -> None:
    """List the migrations."""
    command.history(_config())


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def revision_command(message: str, autogenerate: bool) -> None:
    """Write a new migration (compare models to the database with --autogenerate)."""
    command.revision(_config(), message=message, autogenerate=autogenerate)
