"""Bridge types: each platform module registers a factory here when imported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketping.bridges.base import Bridge
from pocketping.core.models import Bridge as BridgeRecord

# factory(record, services) -> a Bridge; ``record.config`` holds the decrypted configuration.
BridgeFactory = Callable[[BridgeRecord, Any], Bridge]

BRIDGE_TYPES: dict[str, BridgeFactory] = {}


def register(type_: str, factory: BridgeFactory) -> None:
    BRIDGE_TYPES[type_] = factory
