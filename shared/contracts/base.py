"""Building blocks of the contracts: message bases, common types, the method spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, dataclass_transform

import msgspec

ProductId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1, description="Product id")]
ProductIds = Annotated[list[ProductId], msgspec.Meta(max_length=100)]
MinorUnits = Annotated[int, msgspec.Meta(ge=0, description="Amount in minor units (cents)")]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code")]


# msgspec passes `frozen` on to subclasses; frozen_default tells type checkers so.
@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every RPC request's params: unknown fields are an error, not ignored."""


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every RPC result: readers ignore fields they do not know (additive changes)."""


class NoParams(Params):
    """A method that takes no parameters."""


class Health(Record):
    service: str
    status: str
    methods: list[str]
    # Requests this process has answered since it started: tells replicas' shares apart.
    served: int = 0


# Errors any method can answer; a method lists only its own extra ones. `standby`: a
# writer's standby replica refused; clients ask another replica (its active one).
COMMON_ERRORS = ("bad_request", "unknown_method", "bad_params", "internal", "standby")


@dataclass(frozen=True)
class Method:
    """One RPC method: its params and result schemas, errors, and an example request."""

    name: str
    params: type[Params]
    result: type[Record]
    summary: str
    example: Params
    errors: tuple[str, ...] = ()
    # A pure read of data only its service writes: the runtime may answer it from memory
    # until the service next commits a write, and reads it without the write lock.
    query: bool = False
    # A write whose handler touches nothing but its service's database: requests of it that
    # queue up together may share one transaction and one commit (shared/runtime/service.py).
    group_commit: bool = False
    # Who may call it (CURVE key names) when CURVE is on; None: any admitted key. Methods that
    # change state or replay history name their callers; reads stay open to the platform.
    callers: tuple[str, ...] | None = None
