"""Consumer expectations: what each consumer reads of the methods it calls and the events it
handles, declared in an `expects.py` beside its code (consumer-driven contracts).

    EXPECTS = Expects(
        consumer="inventory",
        rpc=follows("orders"),
        events={"order.placed": ["order_id", "lines[].product_id", "lines[].quantity"]},
    )

`rpc` maps "service.method" to the result fields read, `events` a topic to the payload fields
read, `errors` "service.method" to the error codes the consumer handles by code. `make
contracts-check` verifies every one against the providers' schemas, and names the consumers
a schema change would break.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schemas import Schema, resolve, tokens

ROOT = Path(__file__).resolve().parents[2]
# Where consumers keep their declarations, relative to the repository root.
EXPECTS_FILES = ("gateway/expects.py", "services/*/expects.py")

# What the bus's follower and idempotent consumer (shared/events/follow.py, consumer.py) read
# of a publisher's fetch_events: every process that follows a publisher depends on these.
FOLLOWER_READS = ("last_seq", "events[].seq", "events[].id", "events[].topic",
                  "events[].version", "events[].occurred_at", "events[].payload",
                  "events[].trace")


def follows(*publishers: str) -> dict[str, tuple[str, ...]]:
    """The fetch_events reads of a process that follows these publishers' events."""
    return {f"{p}.fetch_events": FOLLOWER_READS for p in publishers}


@dataclass(frozen=True)
class Expects:
    consumer: str
    rpc: Mapping[str, Iterable[str]] = field(default_factory=dict)
    events: Mapping[str, Iterable[str]] = field(default_factory=dict)
    errors: Mapping[str, Iterable[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("rpc", "events", "errors"):
            table = {k: tuple(sorted(set(v))) for k, v in getattr(self, name).items()}
            object.__setattr__(self, name, dict(sorted(table.items())))
        for key in [*self.rpc, *self.errors]:
            if key.count(".") != 1:
                raise ValueError(f"{self.consumer}: {key!r} must be 'service.method'")
        for paths in [*self.rpc.values(), *self.events.values()]:
            for path in paths:
                tokens(path)  # raises with the bad path

    def as_dict(self) -> dict[str, Any]:
        return {"rpc": {k: list(v) for k, v in self.rpc.items()},
                "events": {k: list(v) for k, v in self.events.items()},
                "errors": {k: list(v) for k, v in self.errors.items()}}

    @classmethod
    def from_dict(cls, consumer: str, data: Mapping[str, Any]) -> Expects:
        return cls(consumer, data.get("rpc", {}), data.get("events", {}), data.get("errors", {}))


def load(root: Path = ROOT) -> list[Expects]:
    """Every consumer's EXPECTS, sorted by name. Files are loaded on their own, without their
    package, so checking contracts needs neither Flask nor ZeroMQ."""
    found: list[Expects] = []
    for pattern in EXPECTS_FILES:
        for path in sorted(root.glob(pattern)):
            name = "zeroshop_expects_" + path.parent.name
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None, path
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            expects = getattr(module, "EXPECTS", None)
            if not isinstance(expects, Expects):
                raise TypeError(f"{path.relative_to(root)} must define EXPECTS = Expects(...)")
            if expects.consumer != path.parent.name:
                raise ValueError(f"{path.relative_to(root)} declares consumer "
                                 f"{expects.consumer!r}; its folder says {path.parent.name!r}")
            found.append(expects)
    return sorted(found, key=lambda e: e.consumer)


def verify(doc: Schema, expects: Expects) -> list[str]:
    """What in `expects` the exported contracts `doc` do not offer, one sentence each."""
    c = expects.consumer
    return [*(p for key, paths in expects.rpc.items() for p in verify_rpc(doc, c, key, paths)),
            *(p for key, codes in expects.errors.items()
              for p in verify_errors(doc, c, key, codes)),
            *(p for topic, paths in expects.events.items()
              for p in verify_event(doc, c, topic, paths)),
            *verify_consumes(doc, expects)]


def _method(doc: Schema, key: str) -> Schema | None:
    service, method = key.split(".")
    found: Schema | None = doc["services"].get(service, {}).get("methods", {}).get(method)
    return found


def verify_rpc(doc: Schema, consumer: str, key: str, paths: Iterable[str]) -> list[str]:
    spec = _method(doc, key)
    if spec is None:
        service = doc["services"].get(key.split(".")[0], {})
        return [f"{consumer} calls {key}, which the contracts do not have "
                f"({sorted(service.get('methods', {})) if service else 'no such service'})"]
    return [f"{consumer} reads {key} -> {p}, which is not in its result schema "
            f"{_title(spec['result'])}" for p in paths if not resolve(doc, spec["result"], p)]


def verify_errors(doc: Schema, consumer: str, key: str, codes: Iterable[str]) -> list[str]:
    spec = _method(doc, key)
    documented = [*doc["common_errors"], *(spec["errors"] if spec else [])]
    return [f"{consumer} handles error {code!r} of {key}, which it does not document (it "
            f"documents {documented})" for code in codes if code not in documented]


def verify_event(doc: Schema, consumer: str, topic: str, paths: Iterable[str]) -> list[str]:
    spec = doc["events"].get(topic)
    if spec is None:
        return [f"{consumer} handles topic {topic!r}, which no contract defines (topics: "
                f"{sorted(doc['events'])})"]
    return [f"{consumer} reads {topic} -> {p}, which is not in its payload schema "
            f"{_title(spec['payload'])}" for p in paths if not resolve(doc, spec["payload"], p)]


def verify_consumes(doc: Schema, expects: Expects) -> list[str]:
    """A service's declarations and its contract's `consumes` must name the same topics."""
    consumes = doc["services"].get(expects.consumer, {}).get("consumes")
    if consumes is None:
        return []  # not a service (the gateway): it declares what it reads
    return [f"{expects.consumer} consumes {t!r} (its contract says so) but its expects.py "
            f"declares nothing it reads of it" for t in consumes if t not in expects.events] + [
            f"{expects.consumer} declares it reads {t!r}, but its contract does not consume "
            f"that topic" for t in expects.events if t not in consumes]


def _title(node: Schema) -> str:
    return str(node.get("$ref", "?")).rsplit("/", 1)[-1]
