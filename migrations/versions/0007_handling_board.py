"""Handling on the board: publication, list indexes, per-status counts, append-only audit.

- `publication`: drafts (sealed) and approved public summaries of handled cases.
- `case_key_wrap.case_status`: the case's status on the CASE wraps of its own body's
  handlers, so the board counts per status from one index (filled in for existing wraps here).
- indexes that give the board's list each of its orders straight from one index range, and the
  organisation's audit log filtered by action.
- on PostgreSQL, a trigger that refuses UPDATE, DELETE and TRUNCATE on `audit_event`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:23:02.767605
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("draft_ct", sa.LargeBinary(), nullable=False),
        sa.Column("drafted_by", sa.Integer(), nullable=False),
        sa.Column("drafted_on", sa.Date(), nullable=False),
        sa.Column("public_text", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("public_until", sa.Date(), nullable=True),
        sa.Column("withdrawn_by", sa.Integer(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["account.id"], name=op.f("fk_publication_approved_by_account")
        ),
        sa.ForeignKeyConstraint(["body_id"], ["body.id"], name=op.f("fk_publication_body_id_body")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_publication_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["drafted_by"], ["account.id"], name=op.f("fk_publication_drafted_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_publication_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by"], ["account.id"], name=op.f("fk_publication_withdrawn_by_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication")),
    )
    with op.batch_alter_table("publication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publication_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_publication_organisation_status", ["organisation_id", "status"], unique=False
        )

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_event_organisation_action",
            ["organisation_id", "action", "seq"],
            unique=False,
        )

    with op.batch_alter_table("case_key_wrap", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_status", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_case_key_wrap_account_status",
            ["account_id", "purpose", "case_status"],
            unique=False,
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_body_next_due")
        batch_op.create_index(
            "ix_cases_body_next_due",
            ["body_id", "next_due", "received_on", "reference"],
            unique=False,
        )
        batch_op.drop_index("ix_cases_body_status_received")
        batch_op.create_index(
            "ix_cases_body_status_received",
            ["body_id", "status", "received_on", "reference"],
            unique=False,
        )
        batch_op.create_index(
            "ix_cases_body_received", ["body_id", "received_on", "reference"], unique=False
        )
        batch_op.create_index(
            "ix_cases_body_status_next_due",
            ["body_id", "status", "next_due", "received_on", "reference"],
            unique=False,
        )

    # Existing wraps: the CASE wraps of the handlers of each case's own body carry its status.
    op.execute(
        """
        UPDATE case_key_wrap SET case_status = (
            SELECT cases.status FROM cases JOIN account ON account.body_id = cases.body_id
            WHERE cases.id = case_key_wrap.case_id AND account.id = case_key_wrap.account_id
        )
        WHERE account_id IS NOT NULL AND purpose = 'case'
        """
    )

    if op.get_bind().dialect.name == "postgresql":
        _append_only_audit_trail()


def _append_only_audit_trail() -> None:
    """The audit trail refuses to be changed, not only to be changed unnoticed (DESIGN.md)."""
    op.execute(
        """
        CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def downgrade() -> None:
    # Migrations never drop data: this would drop every publication (and the audit guard).
    raise RuntimeError("Refusing to downgrade 0007: it would drop the publications.")
