"""The service runtime's dispatch: validation on the wire and error replies, without sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.pricing import service as pricing
from services.pricing.models import Base
from shared.contracts.pricing import GetPrice, Price
from shared.db import make_engine
from shared.runtime import ContractMismatch, Service
from shared.runtime.replies import ReplyCache


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as db:
        pricing.seed(db)
    pricing.svc.replies = ReplyCache()  # the module's service outlives one test's database
    yield factory
    engine.dispose()


def dispatch(body: bytes | dict[str, object], sessions: sessionmaker[Session]) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = pricing.svc.dispatch(raw, sessions)
    assert reply is not None
    return json.loads(reply)


class TestDispatch:
    def test_a_valid_request_gets_the_result_and_its_id(self, sessions) -> None:
        reply = dispatch({"method": "get_price", "params": {"product_id": 1}, "id": "a1"}, sessions)
        assert reply["ok"] is True and reply["id"] == "a1"
        assert reply["result"]["product_id"] == 1 and reply["result"]["currency"] == "USD"

    @pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[1, 2]", b'{"params": {}}', b"null"])
    def test_malformed_frames_get_bad_request(self, sessions, body: bytes) -> None:
        reply = dispatch(body, sessions)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"

    def test_unknown_method_names_the_known_ones(self, sessions) -> None:
        reply = dispatch({"method": "drop_tables"}, sessions)
        assert reply["error"]["code"] == "unknown_method"
        assert "get_price" in reply["error"]["message"]

    @pytest.mark.parametrize("params, field", [
        ({"product_id": "one"}, "$.product_id"),
        ({"product_id": 0}, "$.product_id"),
        ({}, "product_id"),
        ({"product_id": 1, "extra": True}, "extra"),
    ])
    def test_bad_params_say_which_field(self, sessions, params: dict, field: str) -> None:
        reply = dispatch({"method": "get_price", "params": params}, sessions)
        assert reply["error"]["code"] == "bad_params" and field in reply["error"]["message"]

    def test_domain_errors_keep_their_code(self, sessions) -> None:
        reply = dispatch({"method": "get_price", "params": {"product_id": 424242}}, sessions)
        assert reply["error"] == {"code": "not_found", "message": "no price for product 424242"}

    def test_work_past_its_deadline_is_skipped(self, sessions) -> None:
        body = json.dumps({"method": "get_price", "params": {"product_id": 1},
                           "deadline": time.time() - 1}).encode()
        assert pricing.svc.dispatch(body, sessions) is None

    def test_health_lists_the_contract_methods_and_counts_requests(self, sessions) -> None:
        first = dispatch({"method": "health"}, sessions)["result"]
        assert {k: v for k, v in first.items() if k != "served"} == {
            "service": "pricing", "status": "ok", "methods": ["get_many", "get_price", "health"]}
        again = dispatch({"method": "health"}, sessions)["result"]
        assert again["served"] == first["served"] + 1  # this request counted too


class TestRegistration:
    def test_the_decorator_returns_the_handler_unchanged(self) -> None:
        assert pricing.get_price.__name__ == "get_price"
        assert pricing.svc.handlers["get_price"][1] is pricing.get_price

    def test_a_method_outside_the_contract_is_refused(self) -> None:
        svc = Service("pricing")
        with pytest.raises(ContractMismatch, match="not in the contract"):
            @svc.rpc
            def set_price(params: GetPrice, db: Session) -> Price:
                raise AssertionError

    def test_a_handler_with_the_wrong_types_is_refused(self) -> None:
        svc = Service("pricing")
        with pytest.raises(ContractMismatch, match="must take GetPrice and return Price"):
            @svc.rpc
            def get_price(params: dict, db: Session) -> Price:
                raise AssertionError

    def test_a_missing_method_is_reported(self) -> None:
        assert Service("pricing").missing() == ["get_price", "get_many"]
