"""Mail delivery, notifications, summaries and reports.

- outbox_message: the template a row was rendered from (the administrator's list of failed
  mail names it, never the body) and a sealed recipient for notices to an address a reporter
  left (the plaintext column then says only "reporter");
- cases: the decision taken (resolved / not accepted: the status alone loses it once closed),
  the reporter's sealed notification address, and indexes for counting by date;
- mail_run: which scheduled mailings happened, so cron may run them as often as it likes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_mail_run_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_run")),
        sa.UniqueConstraint(
            "organisation_id",
            "job",
            "period",
            "scope",
            name=op.f("uq_mail_run_organisation_id_job_period_scope"),
        ),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("template", sa.String(length=64), server_default="", nullable=False)
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("notify_email_ct", sa.LargeBinary(), nullable=True))
        batch_op.create_index(
            "ix_cases_organisation_acknowledged",
            ["organisation_id", "acknowledged_on"],
            unique=False,
        )
        batch_op.create_index(
            "ix_cases_organisation_decided", ["organisation_id", "decided_on"], unique=False
        )
        batch_op.create_index(
            "ix_cases_organisation_transferred",
            ["organisation_id", "transferred_on"],
            unique=False,
        )
    # Cases decided before this migration: the status says which decision, unless the case
    # has since been closed; only a resolved case went through acceptance.
    op.execute(
        "UPDATE cases SET decision = status "
        "WHERE decided_on IS NOT NULL AND status IN ('resolved', 'not_accepted')"
    )
    op.execute(
        "UPDATE cases SET decision = CASE WHEN accepted_on IS NULL "
        "THEN 'not_accepted' ELSE 'resolved' END "
        "WHERE decided_on IS NOT NULL AND decision IS NULL"
    )


def downgrade() -> None:
    # Migrations never drop data.
    raise RuntimeError(
        "Refusing to downgrade 0005: it would drop the mail runs, the cases' decisions and "
        "the reporters' sealed notification addresses."
    )
