"""The schema changes only through migrations, and the migrations match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from service.models import Base
from service.platform.db import make_engine
from service.platform.migrate import alembic_config, upgrade_database


def test_the_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == [], "models and migrations differ; write a migration"


def test_the_database_is_at_the_single_head(database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1, "migrations have branched; merge them"
    engine = make_engine(database_url)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    assert current == script.get_current_head()


def test_upgrading_an_up_to_date_database_changes_nothing(database_url):
    engine = make_engine(database_url)
    before = sorted(inspect(engine).get_table_names())
    upgrade_database(database_url)
    after = sorted(inspect(engine).get_table_names())
    engine.dispose()
    assert before == after


def test_no_migration_downgrades_by_dropping_data():
    """A downgrade that would drop tables or columns refuses rather than loses rows."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    for revision in script.walk_revisions():
        source = Path(revision.path).read_text(encoding="utf-8")
        downgrade = source.split("def downgrade", 1)[1]
        assert "drop_table" not in downgrade and "drop_column" not in downgrade, revision.path


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_table_that_belongs_to_a_unit_says_which(table):
    """Serving a whole province later must be configuration, not a rewrite."""
    columns = Base.metadata.tables[table].columns
    unit_scoped_by_parent = {
        "organisation",  # the unit itself
        "case_key_wrap",  # through its case
        "case_message",
        "attachment",
        "attachment_chunk",
        "reference_counter",  # through its body
        "staff_session",  # through its account
        "recovery_code",  # through its account
        "reporter_session",  # deliberately unlinked: it must not say whose it is
        "spent_form_token",  # deliberately unlinked: a form's hash, not whose or where it went
    }
    assert "organisation_id" in columns or table in unit_scoped_by_parent
