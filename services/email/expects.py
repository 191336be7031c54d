"""What email reads of the events it handles (checked by `make contracts-check`)."""

from shared.contracttools.expectations import Expects, follows

EXPECTS = Expects(
    consumer="email",
    rpc=follows("orders"),
    events={
        "order.confirmed": ["order_id", "customer.name", "customer.email", "lines[].quantity",
                            "lines[].name", "total", "currency"],
        "order.rejected": ["order_id", "customer.name", "customer.email", "reason"],
    },
)
