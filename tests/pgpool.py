"""PostgreSQL test databases that are reused: put back to their template's rows after each test.

`CREATE DATABASE … TEMPLATE` copies every block of the template (system catalogs included, some
9 MB) through the write-ahead log: 0.2 s on an idle machine, 1.5–2 s on a busy one, for each of
some 480 tests. Putting a used database back — every table emptied and refilled with the
template's rows, every sequence set back, in one transaction — takes a few milliseconds, and the
test sees exactly what a fresh copy would hold. A database whose schema a test changed (the
catalog fingerprint differs) is dropped rather than reused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

# Everything a test could change in the schema: relations, columns, constraints, triggers (and
# whether they are enabled), functions. Rows and sequence values are put back separately.
FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
  SELECT 'r:' || c.relname || ':' || c.relkind::text AS item
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'a:' || c.relname || ':' || a.attname || ':' || a.atttypid || ':' || a.attnotnull
         || ':' || a.attisdropped || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname = 'public' AND a.attnum > 0
  UNION ALL
  SELECT 'c:' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 't:' || tgname || ':' || tgenabled::text || ':' || tgrelid::regclass::text FROM pg_trigger
   WHERE NOT tgisinternal
  UNION ALL
  SELECT 'f:' || proname || ':' || md5(prosrc) FROM pg_proc
   WHERE pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'n:' || nspname FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
) AS items
"""

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
SEQUENCES = """
SELECT schemaname, sequencename, coalesce(last_value, start_value), last_value IS NOT NULL
  FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename
"""


@dataclass(frozen=True)
class Snapshot:
    """A template's rows (binary COPY data per table), sequence positions and schema."""

    fingerprint: str
    tables: dict[str, bytes]  # table -> COPY data; b"" for an empty table
    sequences: list[tuple[str, str, int, bool]]

    @classmethod
    def take(cls, url: str) -> Snapshot:
        with psycopg.connect(url) as connection:
            tables = {}
            for (table,) in connection.execute(TABLES).fetchall():
                tables[table] = _copy_out(connection, table)
            return cls(
                fingerprint=_scalar(connection, FINGERPRINT),
                tables=tables,
                sequences=[tuple(row) for row in connection.execute(SEQUENCES).fetchall()],
            )

    def restore(self, url: str) -> bool:
        """Put the database back to these rows; False (and nothing changed) if its schema
        differs from the template's, so it cannot be reused."""
        with psycopg.connect(url) as connection:
            if _scalar(connection, FINGERPRINT) != self.fingerprint:
                return False
            # A superuser's replica role skips triggers (the audit trail's append-only one) and
            # foreign-key checks: the tables are emptied and refilled in any order.
            connection.execute("SET LOCAL session_replication_role = replica")
            connection.execute(
                sql.SQL("; ").join(
                    sql.SQL("DELETE FROM {}").format(sql.Identifier(table)) for table in self.tables
                )
            )
            for table, data in self.tables.items():
                if data:
                    _copy_in(connection, table, data)
            if self.sequences:
                connection.execute(
                    sql.SQL("SELECT {}").format(
                        sql.SQL(", ").join(
                            sql.SQL("setval({}::regclass, {}, {})").format(
                                sql.Literal(sql.Identifier(schema, name).as_string(connection)),
                                sql.Literal(value),
                                sql.Literal(called),
                            )
                            for schema, name, value, called in self.sequences
                        )
                    )
                )
        return True


def _scalar(connection: psycopg.Connection, query: str | sql.Composed) -> Any:
    row = connection.execute(query).fetchone()
    assert row is not None  # every query given here returns exactly one row
    return row[0]


def _copy_out(connection: psycopg.Connection, table: str) -> bytes:
    if _scalar(connection, sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(table))):
        statement = sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(sql.Identifier(table))
        with connection.cursor().copy(statement) as copy:
            return b"".join(bytes(block) for block in copy)
    return b""


def _copy_in(connection: psycopg.Connection, table: str, data: bytes) -> None:
    statement = sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(sql.Identifier(table))
    with connection.cursor().copy(statement) as copy:
        copy.write(data)


@dataclass
class Pool:
    """Databases copied from one template, each handed to one test at a time."""

    admin_url: str
    url_for: Callable[[str], str]
    template: str
    snapshot: Snapshot
    free: list[str] = field(default_factory=list)
    made: set[str] = field(default_factory=set)

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"homthu_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template)
                )
            )
        self.made.add(name)
        return name

    def give_back(self, name: str) -> None:
        """After the test: its connections are cut (as DROP … WITH (FORCE) did), then the
        database is put back and reused, or dropped if its schema was changed."""
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        try:
            reusable = self.snapshot.restore(self.url_for(name))
        except psycopg.Error:
            reusable = False
        if reusable:
            self.free.append(name)
        else:
            self.drop(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.made.discard(name)
        if name in self.free:
            self.free.remove(name)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(name)
