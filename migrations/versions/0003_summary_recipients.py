"""Summary recipients: who receives the monthly summaries and the periodic reports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:14:50.603593
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summary_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_summary_recipient_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_recipient")),
        sa.UniqueConstraint(
            "organisation_id", "email", name=op.f("uq_summary_recipient_organisation_id_email")
        ),
    )
    with op.batch_alter_table("summary_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_summary_recipient_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    # Migrations never drop data.
    raise RuntimeError("Refusing to downgrade 0003: it would drop the summary recipients.")
