"""What inventory reads of the events it handles (checked by `make contracts-check`)."""

from shared.contracttools.expectations import Expects, follows

EXPECTS = Expects(
    consumer="inventory",
    rpc=follows("orders"),
    events={"order.placed": ["order_id", "lines[].product_id", "lines[].quantity"]},
)
