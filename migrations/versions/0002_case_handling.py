"""Case handling: deadline rules, categories, routing, and the case's handling columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 13:56:53.897557
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_category_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint(
            "organisation_id", "code", name=op.f("uq_category_organisation_id_code")
        ),
    )
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_category_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "deadline_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("starts_from", sa.String(length=16), nullable=False),
        sa.Column("max_extensions", sa.Integer(), nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_deadline_rule_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_rule")),
        sa.UniqueConstraint(
            "organisation_id",
            "kind",
            "stage",
            name=op.f("uq_deadline_rule_organisation_id_kind_stage"),
        ),
    )
    with op.batch_alter_table("deadline_rule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deadline_rule_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["body_id"], ["body.id"], name=op.f("fk_routing_rule_body_id_body")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_routing_rule_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_routing_rule_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
        sa.UniqueConstraint(
            "organisation_id",
            "kind",
            "category_id",
            name=op.f("uq_routing_rule_organisation_id_kind_category_id"),
        ),
    )
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_rule_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("case_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="message")
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("priority", sa.String(length=16), nullable=False, server_default="normal")
        )
        batch_op.add_column(
            sa.Column(
                "concerns_head_of_unit", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("acknowledged_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("accepted_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("transferred_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("transfer_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("accept_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("resolve_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("next_due", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("extensions", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rated_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retaliation_flagged_on", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_cases_body_next_due", ["body_id", "next_due"], unique=False)
        batch_op.create_index(
            "ix_cases_organisation_received", ["organisation_id", "received_on"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_category_id_category"), "category", ["category_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_assignee_id_account"), "account", ["assignee_id"], ["id"]
        )

    _seed_existing_organisations()


def downgrade() -> None:
    # Migrations never drop data: this would drop the rules and every case's handling history.
    raise RuntimeError("Refusing to downgrade 0002: it would drop case handling data.")


# A frozen copy of service.rules' defaults as they were when this migration was written:
# organisations created before it get the same rules new ones get.
_DEADLINES = [
    *[
        (kind, "acknowledge", 10, "working", "received", 0, 0, "Luật Tiếp công dân 2013, Điều 28")
        for kind in ("suggestion", "problem", "complaint", "denunciation", "misconduct")
    ],
    ("complaint", "accept", 10, "calendar", "received", 0, 0, "Luật Khiếu nại 2011, Điều 27"),
    ("complaint", "resolve", 30, "calendar", "accepted", 1, 15, "Luật Khiếu nại 2011, Điều 28"),
    ("denunciation", "accept", 7, "working", "received", 0, 0, "Luật Tố cáo 2018, Điều 24"),
    ("denunciation", "resolve", 30, "calendar", "accepted", 2, 30, "Luật Tố cáo 2018, Điều 30"),
    *[
        (kind, "resolve", 15, "working", "acknowledged", 1, 15, "Quy chế dân chủ của đơn vị")
        for kind in ("suggestion", "problem", "misconduct")
    ],
]
_CATEGORIES = [
    ("working-conditions", "Điều kiện làm việc", "Working conditions"),
    ("pay-benefits", "Tiền lương, chế độ, chính sách", "Pay, benefits and entitlements"),
    ("finance-assets", "Tài chính, tài sản công", "Finances and public assets"),
    ("personnel", "Tổ chức, cán bộ", "Organisation and personnel"),
    ("conduct", "Ứng xử, văn hóa công sở", "Conduct and workplace culture"),
    ("other", "Khác", "Other"),
]
_ROUTING = {
    "suggestion": "trade_union",
    "problem": "trade_union",
    "misconduct": "trade_union",
    "complaint": "inspection_board",
    "denunciation": "inspection_board",
}


def _seed_existing_organisations() -> None:
    bind = op.get_bind()
    organisations = bind.execute(sa.text("SELECT id FROM organisation")).scalars().all()
    rule = sa.table(
        "deadline_rule",
        *(
            sa.column(name)
            for name in (
                "organisation_id",
                "kind",
                "stage",
                "days",
                "unit",
                "starts_from",
                "max_extensions",
                "extension_days",
                "legal_basis",
            )
        ),
    )
    category = sa.table(
        "category",
        *(
            sa.column(n)
            for n in ("organisation_id", "code", "name_vi", "name_en", "position", "active")
        ),
    )
    routing = sa.table(
        "routing_rule", *(sa.column(n) for n in ("organisation_id", "kind", "body_id"))
    )
    for organisation_id in organisations:
        op.bulk_insert(
            rule,
            [
                dict(
                    zip(
                        (
                            "kind",
                            "stage",
                            "days",
                            "unit",
                            "starts_from",
                            "max_extensions",
                            "extension_days",
                            "legal_basis",
                        ),
                        row,
                        strict=True,
                    ),
                    organisation_id=organisation_id,
                )
                for row in _DEADLINES
            ],
        )
        op.bulk_insert(
            category,
            [
                {
                    "organisation_id": organisation_id,
                    "code": code,
                    "name_vi": vi,
                    "name_en": en,
                    "position": position,
                    "active": True,
                }
                for position, (code, vi, en) in enumerate(_CATEGORIES)
            ],
        )
        bodies = dict(
            bind.execute(
                sa.text(
                    "SELECT kind, id FROM body WHERE organisation_id = :o ORDER BY position, id"
                ),
                {"o": organisation_id},
            ).all()
        )
        op.bulk_insert(
            routing,
            [
                {"organisation_id": organisation_id, "kind": kind, "body_id": bodies[body_kind]}
                for kind, body_kind in _ROUTING.items()
                if body_kind in bodies
            ],
        )
    # Existing cases are all new: they wait on their acknowledgement.
    bind.execute(sa.text("UPDATE cases SET next_due = acknowledge_due WHERE status = 'new'"))
