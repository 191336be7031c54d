"""Building blocks of the contracts: message bases, method specs, service contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
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


# Errors any method can answer; a method lists only its own extra ones.
COMMON_ERRORS = ("bad_request", "unknown_method", "bad_params", "internal")


@dataclass(frozen=True)
class Method:
    """One RPC method: its params and result schemas, errors, and an example request."""

    name: str
    params: type[Params]
    result: type[Record]
    summary: str
    example: Params
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceContract:
    """Everything a service answers; the runtime checks the handlers against it."""

    name: str
    summary: str
    methods: dict[str, Method] = field(default_factory=dict)
    publishes: tuple[str, ...] = ()  # topics
    consumes: tuple[str, ...] = ()  # topics

    def __post_init__(self) -> None:
        from .bus import CONSUMER_METHODS, PUBLISHER_METHODS  # bus builds on this module

        builtins = [Method("health", NoParams, Health, "Liveness and the list of methods.",
                           NoParams())]
        builtins += PUBLISHER_METHODS if self.publishes else ()
        builtins += CONSUMER_METHODS if self.consumes else ()
        for method in builtins:
            self.methods.setdefault(method.name, method)


def contract(name: str, summary: str, *methods: Method, publishes: tuple[str, ...] = (),
             consumes: tuple[str, ...] = ()) -> ServiceContract:
    return ServiceContract(name, summary, {m.name: m for m in methods}, publishes, consumes)
