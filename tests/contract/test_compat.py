"""The compatibility checker, tested: mutations of the committed snapshot that break a
consumer must fail the check naming that consumer; additive ones must pass. And the committed
snapshot and docs/CONTRACTS.md must be what the working tree generates.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.contracttools.classify import Finding, compare
from shared.contracttools.compat import Outcome, check, report
from shared.contracttools.docs import CONTRACTS_MD, render
from shared.contracttools.snapshot import SNAPSHOT, dump, export, read

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def snapshot() -> Doc:
    return read()


def changed(snapshot: Doc, mutate: Callable[[Doc], None]) -> list[Finding]:
    """The findings when the working tree is the snapshot with `mutate` applied."""
    tree = copy.deepcopy(snapshot)
    mutate(tree)
    return compare(snapshot, tree)


def breaking(findings: list[Finding]) -> dict[str, Finding]:
    """Breaking findings by `where` (`product.get result `name``)."""
    return {f.where: f for f in findings if f.level == "breaking"}


def passes(findings: list[Finding]) -> bool:
    return Outcome([], findings, stale=True).ok


def props(doc: Doc, component: str) -> dict[str, Any]:
    properties: dict[str, Any] = doc["components"][component]["properties"]
    return properties


def rename(doc: Doc, component: str, old: str, new: str) -> None:
    node = doc["components"][component]
    node["properties"][new] = node["properties"].pop(old)
    node["required"] = [new if f == old else f for f in node.get("required", [])]


def add_field(doc: Doc, component: str, name: str, schema: Doc, required: bool) -> None:
    props(doc, component)[name] = schema
    if required:
        doc["components"][component].setdefault("required", []).append(name)


class TestBreakingChangesFailNamingTheConsumer:
    def test_renaming_a_result_field_the_gateway_reads(self, snapshot: Doc) -> None:
        found = breaking(changed(snapshot, lambda d: rename(d, "Product", "name", "title")))
        get = found["product.get result `name`"]
        assert get.consumers == ("gateway",) and "renamed to `title`?" in get.message
        assert found["product.list result `items[].name`"].consumers == ("gateway",)

    def test_renaming_a_payload_field_names_every_subscriber_that_reads_it(
            self, snapshot: Doc) -> None:
        found = breaking(changed(snapshot, lambda d: rename(d, "OrderLine", "quantity", "qty")))
        assert found["event order.placed payload `lines[].quantity`"].consumers == (
            "gateway", "inventory")
        assert found["event order.confirmed payload `lines[].quantity`"].consumers == ("email",)
        assert "version is still 1" in found["event order.placed"].message
        # OrderLine is also a param of place_order: the gateway sends it.
        assert found["orders.place_order params `lines[].quantity`"].consumers == ("gateway",)

    def test_removing_a_topic(self, snapshot: Doc) -> None:
        found = breaking(changed(snapshot, lambda d: d["events"].pop("stock.rejected")))
        assert found["event stock.rejected"].message == "topic removed"
        assert found["event stock.rejected"].consumers == ("gateway", "orders")

    def test_removing_a_method(self, snapshot: Doc) -> None:
        found = breaking(changed(
            snapshot, lambda d: d["services"]["pricing"]["methods"].pop("get_price")))
        assert found["pricing.get_price"].consumers == ("gateway",)

    def test_narrowing_a_type_from_integer_to_string(self, snapshot: Doc) -> None:
        found = breaking(changed(
            snapshot, lambda d: props(d, "Stock")["available"].update(type="string")))
        finding = found["inventory.get_stock result `available`"]
        assert finding.consumers == ("gateway",) and "integer -> string" in finding.message

    def test_a_union_losing_a_member(self, snapshot: Doc) -> None:
        def not_null(d: Doc) -> None:
            props(d, "Discount")["promotion"] = {"$ref": "#/components/Promotion"}
        finding = breaking(changed(snapshot, not_null))["discount.get_discount result `promotion`"]
        assert finding.consumers == ("gateway",) and "narrower" in finding.message

    def test_removing_an_enum_value_from_a_result(self, snapshot: Doc) -> None:
        def no_rejected(d: Doc) -> None:
            props(d, "OrderSummary")["status"]["enum"].remove("rejected")
        found = breaking(changed(snapshot, no_rejected))
        assert found["orders.list_orders result `items[].status`"].consumers == ("gateway",)

    def test_adding_an_enum_value_to_a_result_breaks_strict_readers(self, snapshot: Doc) -> None:
        def cancelled(d: Doc) -> None:
            props(d, "OrderSummary")["status"]["enum"].append("cancelled")
        found = breaking(changed(snapshot, cancelled))
        assert "wider" in found["orders.list_orders result `items[].status`"].message

    def test_a_new_required_param(self, snapshot: Doc) -> None:
        found = breaking(changed(snapshot, lambda d: add_field(
            d, "GetPrice", "region", {"type": "string"}, required=True)))
        assert found["pricing.get_price params `region`"].consumers == ("gateway",)

    def test_a_payload_change_without_a_version_bump(self, snapshot: Doc) -> None:
        def carrier(d: Doc) -> None:
            add_field(d, "NotificationSent", "carrier", {"type": "string"}, required=True)
        found = breaking(changed(snapshot, carrier))
        assert "version is still 1" in found["event notification.sent"].message
        assert found["event notification.sent"].consumers == ("gateway", "orders")

        def carrier_v2(d: Doc) -> None:
            carrier(d)
            d["events"]["notification.sent"]["version"] = 2
        assert passes(changed(snapshot, carrier_v2))

    def test_dropping_an_error_code_the_gateway_handles(self, snapshot: Doc) -> None:
        found = breaking(changed(
            snapshot, lambda d: d["services"]["product"]["methods"]["get"].update(errors=[])))
        assert found["product.get errors"].consumers == ("gateway",)

    def test_a_reader_recorded_in_the_snapshot_still_counts(self, snapshot: Doc) -> None:
        """Removing a field together with its only reader's declaration still breaks the
        reader that is deployed at the snapshot's version."""
        def drop(d: Doc) -> None:
            props(d, "Product").pop("description")
            d["components"]["Product"]["required"].remove("description")
            d["consumers"]["gateway"]["rpc"]["product.get"].remove("description")
        found = breaking(changed(snapshot, drop))
        assert found["product.get result `description`"].consumers == ("gateway",)


class TestAdditiveChangesPass:
    @pytest.mark.parametrize("mutate", [
        lambda d: add_field(d, "Product", "sku", {"type": "string"}, required=False),
        lambda d: add_field(d, "GetPrice", "region", {"type": "string"}, required=False),
        lambda d: add_field(d, "OrderPlaced", "note", {"type": "string"}, required=False),
        lambda d: d["services"]["pricing"]["methods"].__setitem__(
            "get_history", d["services"]["pricing"]["methods"]["get_price"]),
        lambda d: d["events"].__setitem__("order.shipped", d["events"]["order.confirmed"]),
        lambda d: props(d, "Stock")["available"].update(minimum=0),
    ], ids=["new-optional-result-field", "new-optional-param", "new-optional-payload-field",
            "new-method", "new-topic", "tighter-result-constraint"])
    def test_passes_with_only_additive_findings(self, snapshot: Doc,
                                                mutate: Callable[[Doc], None]) -> None:
        findings = changed(snapshot, mutate)
        assert findings and all(f.level == "additive" for f in findings), findings

    def test_removing_a_field_nobody_reads_is_a_warning(self, snapshot: Doc) -> None:
        findings = changed(snapshot, lambda d: props(d, "SentNotification").pop("subject"))
        assert passes(findings)
        assert [f.level for f in findings if "subject" in f.where] == ["warning", "warning"]

    def test_an_unchanged_snapshot_has_no_findings(self, snapshot: Doc) -> None:
        assert compare(snapshot, copy.deepcopy(snapshot)) == []


class TestTheCommittedFiles:
    def test_the_working_tree_keeps_every_contract_of_the_snapshot(self) -> None:
        outcome = check()
        assert outcome.ok, report(outcome)

    def test_the_snapshot_is_the_working_trees_export(self) -> None:
        assert SNAPSHOT.read_text(encoding="utf-8") == dump(export()), (
            f"{SNAPSHOT.name} is out of date: the contracts or a consumer's expects.py "
            f"changed. Run `make contracts-check`, then `make contracts-snapshot`, and commit it")

    def test_contracts_md_is_generated_from_the_working_tree(self) -> None:
        assert CONTRACTS_MD.read_text(encoding="utf-8") == render(export()), (
            "docs/CONTRACTS.md is out of date: run `make contracts-docs` and commit it")


class TestTheCommand:
    def test_check_exits_1_naming_the_consumer_of_a_removed_field(self, tmp_path: Path) -> None:
        """A snapshot where product.get had a field `sku` the gateway read: the working tree
        no longer has it."""
        doc = export()
        add_field(doc, "Product", "sku", {"type": "string"}, required=True)
        doc["consumers"]["gateway"]["rpc"]["product.get"].append("sku")
        (tmp_path / "snapshot.json").write_text(json.dumps(doc))
        result = subprocess.run(
            [sys.executable, "-m", "shared.contracttools.compat", "check", "--snapshot",
             str(tmp_path / "snapshot.json")], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "BREAKING  product.get result `sku`: field removed -> breaks gateway" in (
            result.stdout), result.stdout
