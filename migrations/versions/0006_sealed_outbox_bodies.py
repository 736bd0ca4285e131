"""Sealed outbox bodies: mail carrying a secret link is stored sealed until delivered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 15:04:08.511535
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Migrations never drop data: pending sealed mail would lose its bodies.
    raise RuntimeError("Refusing to downgrade 0006: sealed outbox bodies would be lost.")
