"""What orders reads of the events it handles (checked by `make contracts-check`).

Each handler finds the order by `order_id` and adds a timeline entry; the envelope's
`occurred_at` (read through fetch_events) dates it.
"""

from shared.contracttools.expectations import Expects, follows

EXPECTS = Expects(
    consumer="orders",
    rpc=follows("inventory", "email", "sms"),
    events={
        "stock.reserved": ["order_id", "lines[].quantity"],
        "stock.rejected": ["order_id", "reason"],
        "notification.sent": ["order_id", "channel", "kind", "recipient"],
    },
)
