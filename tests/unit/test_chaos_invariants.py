"""The chaos soak's own checks, on made-up outcomes: a check that cannot fail finds nothing."""

from __future__ import annotations

from shared.chaos.invariants import RunOrder, _unaccounted
from shared.chaos.load import Tally


def _orders(*ids: int) -> dict[int, RunOrder]:
    return {i: RunOrder(i, "confirmed", ((1, 2),)) for i in ids}


def _told(**accepted: int) -> Tally:
    tally = Tally()
    tally.accepted.update(accepted)
    return tally


def test_every_order_told_to_exactly_one_buyer_passes() -> None:
    assert _unaccounted(_orders(1, 2), _told(k1=1, k2=2)) == []


def test_an_order_no_buyer_was_told_of_is_named_with_its_lines() -> None:
    assert _unaccounted(_orders(1, 2, 3), _told(k1=1, k3=3)) == [
        "order 2 (confirmed, lines [(1, 2)]) was never accepted by a buyer"]


def test_one_order_told_for_two_keys_is_named() -> None:
    assert _unaccounted(_orders(1), _told(k1=1, k2=1)) == ["order 1 was accepted for 2 keys"]
