"""A poison event: the SMS provider answers 500 for one customer. After ZEROSHOP_MAX_ATTEMPTS
tries the event becomes a dead letter, the events behind it flow on, email is untouched, and
an operator replays it with `zeroshop dead-letters` once the provider is fixed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ..providers import SHOP, Post, Webhook, customer, outcome_event, place, sent
from ..support import Platform, wait_for

ZEROSHOP = [sys.executable, "-m", "shared.cli"]
POISON = customer(666)
NORMAL = [customer(n) for n in (1, 2, 3)]


@dataclass(frozen=True)
class Poisoned:
    shop: Platform
    webhook: Webhook
    poison_order: int
    normal_orders: list[int]
    refused: list[Post]  # the provider's 500s for the poison order, before any replay


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory,
             module_backend_env: dict[str, str]) -> Iterator[Poisoned]:
    """The poison order, then three normal ones, placed at once; ready when the dead letter is."""
    webhook = Webhook(refused={POISON["phone"]})
    try:
        shop = Platform(tmp_path_factory.mktemp("dead-letters"), services=SHOP,
                        SMS_SENDER="webhook", SMS_WEBHOOK_URL=webhook.url,
                        ZEROSHOP_MAX_ATTEMPTS="3", ZEROSHOP_RETRY_BASE_MS="100",
                        **module_backend_env)
        try:
            poison_order = place(shop, POISON)
            normal_orders = [place(shop, who) for who in NORMAL]
            wait_for(lambda: dead_letters(shop), what="the poison event to become a dead letter")
            yield Poisoned(shop, webhook, poison_order, normal_orders,
                           webhook.posts_to(POISON["phone"], status=500))
        finally:
            shop.close()
    finally:
        webhook.close()


def dead_letters(shop: Platform, include_replayed: bool = False) -> list[dict[str, Any]]:
    return shop.call("sms", "dead_letters", {"include_replayed": include_replayed})["items"]


def zeroshop(shop: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as an operator would; it finds sms through the Platform's SMS_ENDPOINT."""
    return subprocess.run([*ZEROSHOP, *args], env=shop.env, capture_output=True, text=True,
                          timeout=30)


class TestAPoisonEventIsDeadLettered:
    def test_it_is_one_dead_letter_after_three_attempts(self, poisoned: Poisoned) -> None:
        """Exactly one dead letter: the poison order's outcome event, three tries, HTTP 500."""
        event = outcome_event(poisoned.shop, poisoned.poison_order)
        (letter,) = dead_letters(poisoned.shop, include_replayed=True)
        assert (letter["publisher"], letter["seq"], letter["topic"]) == (
            "orders", event["seq"], event["topic"])
        assert letter["attempts"] == 3
        assert "HTTP Error 500" in letter["error"]
        assert [p.idempotency_key for p in poisoned.refused] == [event["id"]] * 3

    def test_the_events_behind_it_still_flow(self, poisoned: Poisoned) -> None:
        """Each normal order placed after the poison one gets exactly one SMS."""
        poison_seq = outcome_event(poisoned.shop, poisoned.poison_order)["seq"]
        for who, order_id in zip(NORMAL, poisoned.normal_orders, strict=True):
            assert outcome_event(poisoned.shop, order_id)["seq"] > poison_seq  # queued behind
            (row,) = sent(poisoned.shop, "sms", order_id)
            (post,) = poisoned.webhook.posts_to(who["phone"])
            assert post.status == 200 and post.idempotency_key == row["event_id"]

    def test_email_is_unaffected(self, poisoned: Poisoned) -> None:
        """The email service sent all four emails, the poison order's too."""
        orders = {poisoned.poison_order, *poisoned.normal_orders}
        emailed = wait_for(lambda: (r := poisoned.shop.call("email", "list_sent", {}))["total"]
                           >= 4 and r, what="four emails")
        assert emailed["total"] == 4
        assert {item["order_id"] for item in emailed["items"]} == orders


class TestReplayFromTheCli:
    def test_replay_sends_the_sms_once(self, poisoned: Poisoned) -> None:
        """List it; a replay while the provider still fails changes nothing; once fixed, a
        replay sends the SMS once and marks it replayed; a second replay sends nothing."""
        shop, webhook = poisoned.shop, poisoned.webhook
        event = outcome_event(shop, poisoned.poison_order)
        ((letter_id, line),) = lines_of(zeroshop(shop, "dead-letters", "list", "sms")).items()
        assert f"orders#{event['seq']}" in line and "HTTP Error 500" in line

        still_failing = zeroshop(shop, "dead-letters", "replay", "sms", letter_id)
        assert still_failing.returncode == 1
        assert f"dead letter {letter_id} failed again: HTTPError" in still_failing.stderr
        assert shop.call("sms", "list_sent", {"order_id": poisoned.poison_order})["total"] == 0
        assert letter_id in lines_of(zeroshop(shop, "dead-letters", "list", "sms"))

        webhook.refused.clear()
        replayed = zeroshop(shop, "dead-letters", "replay", "sms", letter_id)
        assert replayed.returncode == 0, replayed.stderr
        assert f"dead letter {letter_id} replayed" in replayed.stdout
        (row,) = sent(shop, "sms", poisoned.poison_order)
        (post,) = webhook.posts_to(POISON["phone"], status=200)
        assert post.idempotency_key == row["event_id"] == event["id"]
        timeline = wait_for(lambda: [e for e in shop.get(
            f"/api/orders/{poisoned.poison_order}")[1]["timeline"] if e["service"] == "sms"],
            what="orders to hear of the replayed SMS")
        assert timeline[0]["event"] == "notification.sent"

        assert letter_id not in lines_of(zeroshop(shop, "dead-letters", "list", "sms"))
        everything = lines_of(zeroshop(shop, "dead-letters", "list", "sms", "--all"))
        assert everything[letter_id].endswith("(replayed)")

        again = zeroshop(shop, "dead-letters", "replay", "sms", letter_id)
        assert again.returncode == 0 and "replayed" in again.stdout
        assert len(webhook.posts_to(POISON["phone"], status=200)) == 1
        assert shop.call("sms", "list_sent", {"order_id": poisoned.poison_order})["total"] == 1

    def test_an_unknown_id_is_a_clear_failure(self, poisoned: Poisoned) -> None:
        """Replaying an id that does not exist exits non-zero and says so."""
        result = zeroshop(poisoned.shop, "dead-letters", "replay", "sms", "999")
        assert result.returncode != 0
        assert "there is no dead letter 999" in result.stderr


def lines_of(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """`dead-letters list` output as {dead letter id: its line}."""
    assert result.returncode == 0, result.stderr
    return {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
