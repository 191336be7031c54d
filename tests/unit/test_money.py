"""format_money: the one way a person is shown an amount of money, and the strings that
use it (timeline, email, SMS, event summaries), from handlers called directly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.orm import Session

from gateway.events import summary
from services.email import service as email
from services.orders import service as orders
from services.sms import service as sms
from shared.contracts.bus import Envelope
from shared.contracts.events import Customer, OrderConfirmed, OrderLine, OrderPlaced
from shared.contracts.orders import GetOrder, PlaceOrder
from shared.money import format_money
from shared.notifications import RecordingSender

from ..support import memory_sessions


class TestFormatMoney:
    @pytest.mark.parametrize(("minor", "shown"), [
        (7079, "70.79 USD"), (4199, "41.99 USD"), (100, "1.00 USD"), (5, "0.05 USD"),
        (0, "0.00 USD"), (123456789, "1234567.89 USD"), (-250, "-2.50 USD"),
    ])
    def test_cents_are_shown_as_dollars_and_cents(self, minor: int, shown: str) -> None:
        assert format_money(minor, "USD") == shown

    def test_currencies_without_or_with_three_minor_digits(self) -> None:
        assert format_money(7079, "JPY") == "7079 JPY"
        assert format_money(7079, "KWD") == "7.079 KWD"
        assert format_money(7, "KWD") == "0.007 KWD"
        assert format_money(7079, "EUR") == "70.79 EUR"


@pytest.fixture
def db_for() -> Iterator[Callable[[str], Session]]:
    with memory_sessions() as session_for:
        yield session_for


ADA = Customer(name="Ada", email="ada@example.com", phone="+44 20 7946 0000")
LINES = [OrderLine(product_id=1, name="Atlas", quantity=2, unit_price=4199, final_unit_price=2940),
         OrderLine(product_id=3, name="Mug", quantity=1, unit_price=1199, final_unit_price=1199)]
CONFIRMED = OrderConfirmed(order_id=7, customer=ADA, lines=LINES, total=7079, currency="USD")
ENVELOPE = Envelope(publisher="orders", seq=2, id=str(uuid.uuid4()), topic="order.confirmed",
                    version=1, occurred_at="2026-01-01T00:00:00.000+00:00",
                    payload=msgspec.Raw(msgspec.json.encode(CONFIRMED)))


class TestWhatPeopleReadShowsMoneyAsMoney:
    def test_the_order_timeline(self, db_for: Callable[[str], Session]) -> None:
        db = db_for("orders")
        accepted = orders.place_order(PlaceOrder(customer=ADA, lines=LINES, currency="USD"), db)
        placed = orders.get_order(GetOrder(order_id=accepted.order_id), db).timeline[0]
        assert placed.detail == "3 item(s), total 70.79 USD"

    def test_the_confirmation_email_and_sms(self, db_for: Callable[[str], Session],
                                            tmp_path: Path) -> None:
        outbox = RecordingSender(tmp_path / "outbox.log")
        email.send_confirmation(CONFIRMED, db_for("email"), ENVELOPE, outbox)
        sms.send_confirmation(CONFIRMED, db_for("sms"), ENVELOPE, outbox)
        mail, text = (json.loads(line) for line in outbox.path.read_text().splitlines())
        assert "Total: 70.79 USD" in mail["body"]
        assert text["body"] == "ZeroShop: order 7 confirmed, total 70.79 USD."

    def test_the_event_summary_of_the_stream_and_the_cli(self) -> None:
        payload = msgspec.to_builtins(OrderPlaced(order_id=7, customer=ADA, lines=LINES,
                                                  total=7079, currency="USD"))
        assert summary("order.placed", payload) == "order 7 placed: 3 item(s), 70.79 USD"
