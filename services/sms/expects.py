"""What sms reads of the events it handles (checked by `make contracts-check`)."""

from shared.contracttools.expectations import Expects, follows

EXPECTS = Expects(
    consumer="sms",
    rpc=follows("orders"),
    events={
        "order.confirmed": ["order_id", "customer.phone", "total", "currency"],
        "order.rejected": ["order_id", "customer.phone"],
    },
)
