"""inventory: the tables as the models first made them (reservations, stock, the event tables).

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
        "reservations",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "product_id"),
    )
    op.create_table(
        "stock",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.CheckConstraint("available >= 0", name="stock_not_negative"),
        sa.PrimaryKeyConstraint("product_id"),
    )
    events.create_tables_v1()


def downgrade() -> None:
    events.drop_tables_v1()
    op.drop_table("stock")
    op.drop_table("reservations")
