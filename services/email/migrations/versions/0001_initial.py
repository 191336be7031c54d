"""email: the tables as the models first made them (sent_emails, the event tables).

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
        "sent_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("sent_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "kind", name="one_email_per_order_kind"),
    )
    op.create_index(op.f("ix_sent_emails_order_id"), "sent_emails", ["order_id"], unique=False)
    events.create_tables_v1()


def downgrade() -> None:
    events.drop_tables_v1()
    op.drop_index(op.f("ix_sent_emails_order_id"), table_name="sent_emails")
    op.drop_table("sent_emails")
