"""Alembic environment. Run through `flask --app wsgi db upgrade`
(see service/platform/migrate.py)."""

from __future__ import annotations

from alembic import context

from service.models import Base
from service.models.base import UTCDateTime
from service.platform.db import make_engine

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj, autogen_context):
    """Write the application's column types as plain SQLAlchemy types into migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `flask db upgrade`.")
run_migrations_online()
