"""email's provider contract: the generated checks, plus what list_sent and its events mean.

email runs alone: a stub orders serves it a poison order.confirmed (its dead letter), then
order 1's order.confirmed, which it sends (to the recording sender) and announces.
"""

from __future__ import annotations

from .notifier import TestOneNotificationPerOrder  # noqa: F401 - shared with sms
from .provider import (  # noqa: F401 - generated from SERVICES["email"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .samples import PLACE, order_confirmed

SERVICE = "email"
RECIPIENT = PLACE.customer.email
UPSTREAM = [("order.confirmed", order_confirmed(1))]
