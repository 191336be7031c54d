"""What recommendation reads of the events it handles (checked by `make contracts-check`)."""

from shared.contracttools.expectations import Expects, follows

EXPECTS = Expects(
    consumer="recommendation",
    rpc=follows("orders"),
    events={"order.confirmed": ["lines[].product_id"]},
)
