"""Where feature modules plug in: their CLI command groups, outbox planners and start-up hooks.

Planners go in ``pocketping.actions.fanout.PLANNERS``; start-up hooks (background tasks,
bridge connections) in ``pocketping.server.app.STARTUP_HOOKS``. A feature module appends to
those lists when imported, and ``load`` imports every feature module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the server process never needs Typer (or click) in memory
    import typer

FEATURE_MODULES: tuple[str, ...] = (
    "pocketping.server.inbox",
    "pocketping.webhooks",
    "pocketping.relay.feature",
    "pocketping.ai.feature",
)
CLI_GROUPS: tuple[tuple[str, str], ...] = (  # (module with a Typer `app`, command name)
    ("pocketping.operator_cli", "operator"),
    ("pocketping.webhooks.cli", "webhook"),
    ("pocketping.relay.cli", "bridge"),
    ("pocketping.ai.cli", "ai"),
    ("pocketping.ai.kb_cli", "kb"),
)
CLI_COMMANDS: tuple[tuple[str, str], ...] = (  # (module, function): top-level commands
    ("pocketping.relay.cli", "doctor"),
)

_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in FEATURE_MODULES:
        importlib.import_module(module)


def register_cli(app: typer.Typer) -> None:
    for module, name in CLI_GROUPS:
        app.add_typer(importlib.import_module(module).app, name=name)
    for module, name in CLI_COMMANDS:
        app.command(name.replace("_", "-"))(getattr(importlib.import_module(module), name))
