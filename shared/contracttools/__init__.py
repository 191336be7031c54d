"""Tooling over the contracts in `shared/contracts/`, needed by no service at run time.

- `expectations`: what each consumer declares it reads (`expects.py` beside its code).
- `snapshot`: every contract exported as JSON Schema (docs/contracts.snapshot.json).
- `schemadiff`, `classify`: what changed since the snapshot, and whom it would break.
- `docs`: docs/CONTRACTS.md. `compat`: the command behind `make contracts-check`,
  `make contracts-snapshot` and `make contracts-docs`.
- `schemas`: walking exported JSON Schemas (refs, unions, field paths).
"""
