"""The project's docs stand alone and agree with the code: README.md and docs/ point only at
files and headings that exist here (never at team material outside the repository), and the
event envelope they describe is the one the relay puts on the wire."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gateway.schemas import StreamedEvent
from shared.contracts.events import Customer, OrderRejected
from shared.events import emit
from shared.events.models import EventsBase
from shared.events.outbox import events_after

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: `4. Events, exactly` -> `4-events-exactly`."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {anchor(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
class TestTheDocsStandAlone:
    def test_they_cite_no_team_material_outside_the_repository(self, doc: Path) -> None:
        text = doc.read_text(encoding="utf-8")
        for pattern in (r"\.\./shared", r"ARCHITECTURE\.md,\s*\d", r"team design",
                        r"\.venv/bin/zeroshop"):
            found = [line for line in text.splitlines() if re.search(pattern, line)]
            assert not found, f"{doc.name} says {pattern!r}: {found}"

    def test_every_link_reaches_a_file_and_heading_of_the_repository(self, doc: Path) -> None:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            file, _, heading = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"
            if heading:
                assert heading in anchors(path), f"{doc.name}: no heading #{heading} in {file}"


def wire_envelope() -> dict[str, object]:
    """One event as the relay sends it: emitted into a real outbox, read back, encoded."""
    engine = create_engine("sqlite://")
    EventsBase.metadata.create_all(engine)
    with Session(engine) as db:
        ada = Customer(name="Ada", email="ada@example.com", phone="+44 20 7946 0000")
        emit(db, OrderRejected(order_id=1, customer=ada, reason="out of stock"))
        (event,) = events_after(db, "orders", 0, 10)
    engine.dispose()
    body: dict[str, object] = json.loads(msgspec.json.encode(event))
    return body


class TestTheEnvelopeTheDocsDescribeIsTheWiresOne:
    def test_the_readme_names_every_field_on_the_wire(self) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        sentence = re.search(r"Each event travels in an envelope with the fields (.+?) \(",
                             readme, re.S)
        assert sentence, "README.md: the envelope sentence is gone"
        assert re.findall(r"`(\w+)`", sentence[1]) == list(wire_envelope())

    def test_contracts_md_describes_each_field(self) -> None:
        text = (ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
        section = text.split("### The event envelope", 1)[1].split("\n### ", 1)[0]
        assert re.findall(r"^\| `(\w+)` \|", section, re.M) == list(wire_envelope())

    def test_the_event_stream_carries_the_same_fields_plus_a_summary(self) -> None:
        assert set(StreamedEvent.__struct_fields__) == {*wire_envelope(), "summary"}
