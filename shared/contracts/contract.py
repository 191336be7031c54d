"""A service's contract: its own methods plus the built-in ones every service answers
(`health`; the bus's methods for publishers and consumers, from bus.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Health, Method, NoParams
from .bus import CONSUMER_METHODS, PUBLISHER_METHODS

HEALTH = Method("health", NoParams, Health, "Liveness and the list of methods.", NoParams())


@dataclass(frozen=True)
class ServiceContract:
    """Everything a service answers; the runtime checks the handlers against it."""

    name: str
    summary: str
    methods: dict[str, Method] = field(default_factory=dict)
    publishes: tuple[str, ...] = ()  # topics
    consumes: tuple[str, ...] = ()  # topics

    def __post_init__(self) -> None:
        builtins = [HEALTH]
        builtins += PUBLISHER_METHODS if self.publishes else ()
        builtins += CONSUMER_METHODS if self.consumes else ()
        for method in builtins:
            self.methods.setdefault(method.name, method)


def contract(name: str, summary: str, *methods: Method, publishes: tuple[str, ...] = (),
             consumes: tuple[str, ...] = ()) -> ServiceContract:
    return ServiceContract(name, summary, {m.name: m for m in methods}, publishes, consumes)
