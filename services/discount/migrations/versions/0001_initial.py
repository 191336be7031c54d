"""discount: the tables as the models first made them (product_categories, promotions).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_categories",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_promotions_category"), "promotions", ["category"], unique=False)
    op.create_index(op.f("ix_promotions_code"), "promotions", ["code"], unique=False)
    op.create_index(op.f("ix_promotions_product_id"), "promotions", ["product_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_promotions_product_id"), table_name="promotions")
    op.drop_index(op.f("ix_promotions_code"), table_name="promotions")
    op.drop_index(op.f("ix_promotions_category"), table_name="promotions")
    op.drop_table("promotions")
    op.drop_table("product_categories")
