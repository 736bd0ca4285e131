"""One filing per report form: the keyed hashes of spent one-time form tokens.

- `spent_form_token`: the hash of a sent form's token and the day after which it may be purged;
  a reload or a double click that sends the same form again finds it and files nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spent_form_token",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purge_after", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spent_form_token")),
    )


def downgrade() -> None:
    # Migrations never drop data: without these rows a form sent today could be sent again.
    raise RuntimeError("Refusing to downgrade 0008: it would forget which forms were sent.")
