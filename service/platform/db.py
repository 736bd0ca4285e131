"""Engine and per-request sessions (SQLAlchemy 2, no Flask-SQLAlchemy).

The engine lives in ``app.extensions["homthu.db"]``; a view gets the request's session with
``get_db()``. Domain functions receive a ``Session`` argument and never commit: the request,
or the CLI command, is the unit of work and commits once (service/platform/unit_of_work.py,
which also lists the few named exceptions), so a change, its audit event and its outbox mail
land together or not at all.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY_OPTION = "homthu_read_only"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and writer-first transactions.

    Statement parameters are hidden from error messages: a traceback must not carry a lookup id
    or a ciphertext into a log.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)
    _create_private_sqlite_file(url)
    engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True, **kwargs)
    _configure_sqlite(engine)
    return engine


def _create_private_sqlite_file(url: str) -> None:
    """Create a missing SQLite file 0600 (its folder 0700) before SQLite makes it world-readable.

    SQLite creates a database 0644 and gives its -wal and -shm files the database's own mode, so
    a file made private here keeps the whole database private. An existing file is left as it is.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # SQLite reads an empty file as an empty database, so creating it first is safe.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 15000")
        # Freed pages are zeroed, so shredded ciphertext does not linger in the file.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: a transaction that reads the audit
        # chain head and then appends to it cannot be overtaken by another writer in between.
        # Read-only work (streaming a download) asks for a plain, deferred BEGIN instead.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# The field below named `sessionmaker` hides the class inside the class body, hence the alias.
_Sessions = sessionmaker[Session]


@dataclass
class Database:
    engine: Engine
    sessionmaker: _Sessions
    # Sessions for reads only: on SQLite they never take the write lock.
    read_sessionmaker: _Sessions

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for background work; rolled back if not committed (CLI commands use
        service.platform.unit_of_work.transaction, which commits)."""
        with self.sessionmaker() as session:
            yield session


def init_app(app: Flask, session_info: dict[str, Any] | None = None) -> Database:
    """`session_info` is copied into every session's `info` (the mail adapter's settings)."""
    engine = make_engine(app.config["DATABASE_URL"])
    info = dict(session_info or {})
    database = Database(
        engine,
        sessionmaker(engine, expire_on_commit=False, info=info),
        sessionmaker(engine.execution_options(**{READ_ONLY_OPTION: True}), info=info),
    )
    app.extensions["homthu.db"] = database
    app.teardown_appcontext(_close_request_session)
    return database


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["homthu.db"]


def get_db() -> Session:
    """The current request's session, opened on first use."""
    if "db" not in g:
        g.db = get_database().sessionmaker()
    return g.db


def database_unreachable(error: BaseException) -> bool:
    """Whether `error`, or what caused it, says the database is gone or cannot answer now.

    A connection cut, a server restarting or refusing connections, every pooled connection
    busy for too long, a SQLite file locked for too long or on a full disk: the request could
    not be saved, and trying again later may work.
    """
    seen: BaseException | None = error
    for _depth in range(8):  # a chain of causes is short; a cycle must not hang an error page
        if seen is None:
            return False
        if isinstance(seen, OperationalError | DisconnectionError | InterfaceError | PoolTimeout):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _DRIVER_OUTAGES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _driver_outages() -> tuple[type[BaseException], ...]:
    """The drivers' own outage errors, for code that reaches a driver without SQLAlchemy."""
    found: list[type[BaseException]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # a SQLite-only installation
        return tuple(found)
    return (*found, psycopg.OperationalError, psycopg.InterfaceError)


_DRIVER_OUTAGES = _driver_outages()


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        # The unit of work committed a successful request in its after_request hook; here,
        # anything left (an exception, a failed commit) is rolled back.
        session.close()
