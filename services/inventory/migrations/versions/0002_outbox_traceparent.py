"""inventory: the outbox keeps each event's OpenTelemetry trace context (outbox.traceparent).

Revision ID: 0002
Revises: 0001
"""

from shared.events import migrations as events

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    events.add_traceparent_v2()


def downgrade() -> None:
    events.drop_traceparent_v2()
