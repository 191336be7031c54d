"""Classifying contract changes (old snapshot -> working tree) by who they would break.

Which way a message flows decides what breaks. Params flow to the provider: they must not
narrow (a new required field, a removed field, a tighter type). Results and payloads flow to
consumers: a field a consumer reads must stay, stay required and keep its type (a new enum
value breaks a strict decoder as surely as a removed one breaks its code); fields nobody reads
may change (a warning). New optional fields, methods and topics are additive. A payload may
change beyond additive only with a new topic version. Consumers are those declared now or in
the snapshot, so a consumer still deployed at the old version counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .expectations import Expects
from .schemadiff import Change, diff
from .schemas import Schema, overlaps

Level = Literal["breaking", "warning", "additive"]
Reads = dict[str, set[str]]  # consumer -> field paths (or error codes) it reads


@dataclass(frozen=True)
class Finding:
    level: Level
    where: str  # `pricing.get_price result`, `event order.placed`
    message: str
    consumers: tuple[str, ...] = ()

    def __str__(self) -> str:
        who = f" -> breaks {', '.join(self.consumers)}" if self.consumers else (
            " (no declared consumer; other clients may still use it)"
            if self.level == "breaking" else "")
        return f"{self.level.upper():9} {self.where}: {self.message}{who}"


def compare(old: Schema, new: Schema) -> list[Finding]:
    """Every difference from snapshot `old` to working tree `new`, classified."""
    consumers = [Expects.from_dict(n, d) for doc in (old, new)
                 for n, d in doc.get("consumers", {}).items()]
    return _methods(old, new, consumers) + _events(old, new, consumers)


def _reads(consumers: Iterable[Expects], table: str, key: str) -> Reads:
    reads: Reads = {}
    for e in consumers:
        if key in getattr(e, table):
            reads.setdefault(e.consumer, set()).update(getattr(e, table)[key])
    return reads


def _methods(old: Schema, new: Schema, consumers: list[Expects]) -> list[Finding]:
    found: list[Finding] = []
    for service, spec in old["services"].items():
        for name, method in spec["methods"].items():
            key, callers = f"{service}.{name}", _reads(consumers, "rpc", f"{service}.{name}")
            now = new["services"].get(service, {}).get("methods", {}).get(name)
            if now is None:
                found.append(Finding("breaking", key, "method removed", tuple(sorted(callers))))
                continue
            found += [_param(key, c, sorted(callers))
                      for c in diff(old, method["params"], new, now["params"])]
            found += [f for c in diff(old, method["result"], new, now["result"])
                      if (f := _output(f"{key} result", c, callers, event=False))]
            found += _errors(key, method["errors"], now["errors"],
                             _reads(consumers, "errors", key))
    found += [Finding("additive", f"{service}.{name}", "new method")
              for service, spec in new["services"].items() for name in spec["methods"]
              if name not in old["services"].get(service, {}).get("methods", {})]
    return found


def _param(key: str, change: Change, callers: list[str]) -> Finding:
    where, callers_ = f"{key} params{_at(change)}", tuple(callers)
    if change.kind == "removed":
        return Finding("breaking", where, "field removed: callers that send it get bad_params",
                       callers_)
    if (change.kind == "added" and change.required) or change.kind == "required":
        return Finding("breaking", where, f"{change.detail}: callers that omit it get "
                       f"bad_params", callers_)
    if change.kind in ("type", "constraint") and change.relation != "wider":
        return Finding("breaking", where, f"{change.relation}: {change.detail}", callers_)
    if change.kind == "default":
        return Finding("warning", where, f"{change.detail}: callers that omit it get other "
                       f"answers")
    return Finding("additive", where, change.detail)


def _output(where: str, change: Change, readers: Reads, event: bool) -> Finding | None:
    """A result or payload change: breaking when a reader reads that field."""
    affected = tuple(sorted(c for c, paths in readers.items()
                            if any(overlaps(p, change.path) for p in paths)))
    where += _at(change)
    if change.kind == "added":
        if event and change.required:
            return Finding("warning", where, f"{change.detail}: events stored before it lack "
                           f"it")
        return Finding("additive", where, change.detail)
    if change.kind in ("required", "default"):
        return None  # always present now, or a default readers never see: nothing to do
    if change.kind == "constraint" and change.relation == "narrower":
        return Finding("additive", where, f"tighter: {change.detail}")
    message = {"removed": change.detail, "optional": "field may now be missing",
               "type": f"type {change.relation}: {change.detail}",
               "constraint": f"readers validate it on decode: {change.detail}"}[change.kind]
    if affected:
        return Finding("breaking", where, message, affected)
    return Finding("warning", where, f"{message} (no declared consumer reads it)")


def _errors(key: str, before: list[str], after: list[str], handlers: Reads) -> list[Finding]:
    found = []
    for code in (c for c in before if c not in after):
        who = tuple(sorted(c for c, codes in handlers.items() if code in codes))
        found.append(Finding("breaking" if who else "warning", f"{key} errors",
                             f"error {code!r} no longer documented", who))
    found += [Finding("warning", f"{key} errors", f"new error {code!r}: callers may not "
                      f"handle it") for code in after if code not in before]
    return found


def _events(old: Schema, new: Schema, consumers: list[Expects]) -> list[Finding]:
    found: list[Finding] = []
    for topic, spec in old["events"].items():
        where, readers = f"event {topic}", _reads(consumers, "events", topic)
        now = new["events"].get(topic)
        if now is None:
            found.append(Finding("breaking", where, "topic removed", tuple(sorted(readers))))
            continue
        changes = [f for c in diff(old, spec["payload"], new, now["payload"])
                   if (f := _output(f"{where} payload", c, readers, event=True))]
        found += changes
        gone = [p for p in spec["publishers"] if p not in now["publishers"]]
        if gone:
            found.append(Finding("breaking", where, f"no longer published by {', '.join(gone)}",
                                 tuple(sorted(readers))))
        if now["version"] < spec["version"]:
            found.append(Finding("breaking", where,
                                 f"version went down: {spec['version']} -> {now['version']}"))
        elif now["version"] > spec["version"]:
            found.append(Finding("additive", where,
                                 f"version {spec['version']} -> {now['version']}"))
        elif any(f.level != "additive" for f in changes):
            found.append(Finding("breaking", where, f"payload changed beyond additive but "
                                 f"version is still {now['version']}: bump Topic.version in "
                                 f"shared/contracts/events.py", tuple(sorted(readers))))
    found += [Finding("additive", f"event {t}", "new topic")
              for t in new["events"] if t not in old["events"]]
    return found


def _at(change: Change) -> str:
    return f" `{change.path}`" if change.path else ""
