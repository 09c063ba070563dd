"""What every ``pocketping`` command shares: settings from the global options, output as
text or JSON, clean errors, and ``run`` (a fresh set of services for one command).

Command modules import only Typer and this module at import time, so ``pocketping --help``
answers at once; each command imports what it needs when it runs. The services come from
the wiring: the root command hands them over (``use``) before any command runs; command
modules never import the wiring.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from pocketping.actions.services import Services
    from pocketping.config import Settings
    from pocketping.relay.live import BridgeMaker

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def group(help_text: str = "", **options: Any) -> typer.Typer:
    """A command group. Plain help output: Rich would cost a third of a second per command."""
    return typer.Typer(help=help_text or None, no_args_is_help=bool(help_text), rich_markup_mode=None, **options)

# A line the demo adds to what it prints (the inbox adds its demo operator): (svc, info) -> None.
DemoLine = Callable[["Services", dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class CliDeps:
    """What commands need from the wiring."""

    build_services: Callable[[Settings], Services]
    run_server: Callable[..., None]  # (settings, role=, processes=): serve until stopped, in this process
    bridge_maker: Callable[[Settings], BridgeMaker]
    encrypted_columns: Sequence[Any]
    demo_lines: Sequence[DemoLine]


class State:
    database_url: str | None = None


state = State()


_deps: ContextVar[CliDeps | None] = ContextVar("pocketping_cli_deps", default=None)


def use(found: CliDeps) -> None:
    """Called by the root command (``pocketping.wiring.cli_app``) before the command runs."""
    _deps.set(found)


def deps() -> CliDeps:
    found = _deps.get()
    if found is None:
        raise RuntimeError("pocketping commands run under the root command (pocketping.wiring.cli_app)")
    return found


def settings(**overrides: Any) -> Settings:
    from pocketping.config import load_settings

    return load_settings(database_url=state.database_url, **overrides)


def emit(data: Any, as_json: bool, human: str | Callable[[], str]) -> None:
    if as_json:
        import orjson

        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        typer.echo(human() if callable(human) else human)


def fail(message: str, as_json: bool, code: str = "error") -> None:
    if as_json:
        import orjson

        sys.stdout.write(orjson.dumps({"error": {"code": code, "message": message}}).decode() + "\n")
    else:
        typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def run(fn: Callable[[Any], Awaitable[T]], as_json: bool = False, *, migrate: bool = True,
        cfg: Settings | None = None) -> T:
    """Run ``fn(services)`` with a fresh set of services; errors become clean messages."""
    import asyncio

    from pocketping.errors import PocketPingError

    build = deps().build_services

    async def main() -> T:
        svc = build(cfg or settings())
        try:
            if migrate:
                await svc.db.migrate()
            result = await fn(svc)
            flush = getattr(svc.hub, "flush", None)  # several nodes: tell them of changes at once
            if flush is not None:
                await flush()
            return result
        finally:
            await svc.db.dispose()

    try:
        return asyncio.run(main())
    except PocketPingError as exc:
        fail(exc.message, as_json, exc.code)
        raise  # unreachable
    except ValueError as exc:
        fail(str(exc), as_json, "invalid_input")
        raise
