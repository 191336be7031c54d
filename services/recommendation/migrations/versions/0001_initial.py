"""recommendation: the tables as the models first made them (catalog_entries, co_purchases, the
event tables).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.events import migrations as events

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_entries",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
    )
    op.create_index(
        op.f("ix_catalog_entries_category"), "catalog_entries", ["category"], unique=False
    )
    op.create_table(
        "co_purchases",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("other_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "other_id"),
    )
    events.create_tables_v1()


def downgrade() -> None:
    events.drop_tables_v1()
    op.drop_table("co_purchases")
    op.drop_index(op.f("ix_catalog_entries_category"), table_name="catalog_entries")
    op.drop_table("catalog_entries")
