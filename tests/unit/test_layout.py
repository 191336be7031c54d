"""How the code is laid out for its readers: `shared/contracts/` is the schemas alone, its
modules import each other without a cycle, and the contract tooling stays out of run time."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "shared" / "contracts"


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module `path` imports, anywhere in it (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            if node.module is None:  # `from . import x`: x is a module of the package
                found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_the_contract_modules_import_each_other_without_a_cycle() -> None:
    graph = {}
    for path in CONTRACTS.glob("*.py"):
        name = "shared.contracts" if path.stem == "__init__" else f"shared.contracts.{path.stem}"
        graph[name] = {m for m in imported_modules(path, "shared.contracts")
                       if m.startswith("shared.contracts.") and m != name}
    assert "shared.contracts.bus" in graph and "shared.contracts.base" in graph
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle in shared/contracts: {exc.args[1]}") from None


def test_the_contracts_are_schemas_only_and_need_no_tooling() -> None:
    for path in CONTRACTS.glob("*.py"):
        outside = {m for m in imported_modules(path, "shared.contracts")
                   if m.startswith("shared.") and not m.startswith("shared.contracts")}
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"


def test_no_running_code_imports_the_contract_tooling() -> None:
    """Only the consumers' declarations (expects.py) and the tooling itself use it."""
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("gateway/*.py"),
                 *ROOT.glob("services/**/*.py")]:
        if path.name == "expects.py" or "contracttools" in path.parts:
            continue
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        tooling = {m for m in imported_modules(path, package)
                   if m.startswith("shared.contracttools")}
        assert not tooling, f"{path.relative_to(ROOT)} imports {sorted(tooling)} at run time"
