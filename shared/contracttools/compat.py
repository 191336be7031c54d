"""Compatibility check: the working tree's contracts against the committed snapshot, and
every consumer's expectations against the working tree (policy: classify.py).

    python -m shared.contracttools.compat check [--snapshot PATH]   # make contracts-check
    python -m shared.contracttools.compat snapshot                   # make contracts-snapshot
    python -m shared.contracttools.compat docs                       # make contracts-docs
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .classify import Finding, compare
from .expectations import ROOT, Expects, verify
from .schemas import Schema
from .snapshot import SNAPSHOT, dump, export, read, write


def expectation_problems(doc: Schema) -> list[str]:
    """Every consumer's declared reads that the contracts in `doc` do not offer."""
    return [p for n, d in doc["consumers"].items() for p in verify(doc, Expects.from_dict(n, d))]


@dataclass(frozen=True)
class Outcome:
    problems: list[str]  # expectations the working tree does not meet
    findings: list[Finding]  # differences from the snapshot, classified
    stale: bool  # the snapshot file is not the working tree's export

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.level != "breaking" for f in self.findings)


def check(snapshot: Path = SNAPSHOT) -> Outcome:
    """The working tree against the committed `snapshot`."""
    current = export()
    if not snapshot.exists():
        raise SystemExit(f"{snapshot} is missing: run `make contracts-snapshot` and commit it")
    committed = read(snapshot)
    return Outcome(expectation_problems(current), compare(committed, current),
                   dump(committed) != dump(current))


def report(outcome: Outcome) -> str:
    """For people: unmet expectations and breaking changes first, then the rest."""
    order = {"breaking": 0, "warning": 1, "additive": 2}
    lines = [f"UNMET     {p}" for p in outcome.problems]
    lines += [str(f) for f in sorted(outcome.findings, key=lambda f: (order[f.level], f.where))]
    count = {level: sum(f.level == level for f in outcome.findings) for level in order}
    lines.append(f"contracts-check: {'OK' if outcome.ok else 'FAILED'}: "
                 f"{len(outcome.problems)} unmet expectation(s), {count['breaking']} breaking, "
                 f"{count['warning']} warning(s), {count['additive']} additive")
    if not outcome.ok and count["breaking"]:
        lines.append("contracts-check: if a break is intended (the consumers named above are "
                     "updated and deployed first), run `make contracts-snapshot`")
    elif outcome.ok and outcome.stale:
        lines.append(f"contracts-check: {SNAPSHOT.relative_to(ROOT)} is behind the working "
                     f"tree: run `make contracts-snapshot` and commit it")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracttools.compat",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("check", "snapshot", "docs"))
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT,
                        help=f"the committed snapshot to check against (default "
                             f"{SNAPSHOT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.command == "snapshot":
        write()
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
        return 0
    if args.command == "docs":
        from .docs import CONTRACTS_MD, render

        CONTRACTS_MD.write_text(render(export()), encoding="utf-8")
        print(f"wrote {CONTRACTS_MD.relative_to(ROOT)}")
        return 0
    outcome = check(args.snapshot)
    print(report(outcome))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
