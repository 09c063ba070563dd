"""The ``pocketping`` command. Thin: it calls the same actions as the API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from pocketping.config import Settings, load_settings
from pocketping.errors import PocketPingError

T = TypeVar("T")

app = typer.Typer(help="PocketPing: self-hostable live chat bridged to Telegram, Discord and Slack.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
project_app = typer.Typer(help="Projects, their keys and widget settings.", no_args_is_help=True)
app.add_typer(project_app, name="project")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class State:
    database_url: str | None = None


state = State()


def _print_version(wanted: bool) -> None:
    if wanted:
        from pocketping import __version__

        typer.echo(f"pocketping {__version__}")
        raise typer.Exit()


@app.callback()
def _global(database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="POCKETPING_DATABASE_URL",
        help="Database URL (sqlite:///path.db, postgresql://..., mysql://...).")] = None,
        version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                              help="Print the version and exit.")] = False) -> None:
    state.database_url = database_url


def settings(**overrides: Any) -> Settings:
    return load_settings(database_url=state.database_url, **overrides)


def emit(data: Any, as_json: bool, human: str | Callable[[], str]) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        typer.echo(human() if callable(human) else human)


def fail(message: str, as_json: bool, code: str = "error") -> None:
    if as_json:
        sys.stdout.write(orjson.dumps({"error": {"code": code, "message": message}}).decode() + "\n")
    else:
        typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def run(fn: Callable[[Any], Awaitable[T]], as_json: bool = False, *, migrate: bool = True) -> T:
    """Run ``fn(services)`` with a fresh set of services; errors become clean messages."""
    from pocketping.services import build_services

    async def main() -> T:
        svc = build_services(settings())
        try:
            if migrate:
                await svc.db.migrate()
            return await fn(svc)
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


# --- server ------------------------------------------------------------------------------

@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM); TLS 1.3 only")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Create the demo project on first run and print how "
                                                      "to try it")] = False,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Database URL; overrides POCKETPING_DATABASE_URL and the global option")] = None,
) -> None:
    """Run the server (applies pending migrations first)."""
    import os

    if database_url is not None:
        state.database_url = database_url
    cfg = settings(host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    if (cfg.ssl_certfile is None) != (cfg.ssl_keyfile is None):
        fail("give both --ssl-certfile and --ssl-keyfile", False)

    async def prepare(svc: Any) -> None:
        # (run() has already applied pending migrations)
        if demo:
            from pocketping.demo import print_demo

            scheme = "https" if cfg.ssl_certfile else "http"
            await print_demo(svc, f"{scheme}://{cfg.host}:{cfg.port}")

    run(prepare)
    env = dict(os.environ)
    for name, value in (("DATABASE_URL", cfg.database_url), ("HOST", cfg.host), ("PORT", cfg.port),
                        ("SSL_CERTFILE", cfg.ssl_certfile), ("SSL_KEYFILE", cfg.ssl_keyfile)):
        if value is not None:
            env[f"POCKETPING_{name}"] = str(value)
    sys.stdout.flush()
    # A fresh interpreter for the long-running server (see pocketping.server.run).
    os.execve(sys.executable, [sys.executable, "-m", "pocketping.server.run"], env)  # noqa: S606


@app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Apply pending database migrations (the server also does this on start)."""
    async def go(svc: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        result: tuple[tuple[str, ...], tuple[str, ...]] = await svc.db.migrate()
        return result

    before, after = run(go, as_json, migrate=False)
    emit({"before": list(before), "after": list(after), "changed": before != after}, as_json,
         f"database at revision {', '.join(after)}" + ("" if before != after else " (already up to date)"))


@app.command("generate-key")
def generate_key(as_json: JsonOpt = False) -> None:
    """Print a new random encryption key (for POCKETPING_ENCRYPTION_KEY)."""
    from pocketping.crypto import generate_key as gen

    key = gen()
    emit({"key": key}, as_json, key)


@app.command("rotate-key")
def rotate_key(
    as_json: JsonOpt = False,
    new_key: Annotated[bool, typer.Option("--new-key", help="With the embedded key file: generate a new "
                                                            "current key first, keeping the old one to read")] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction")] = 500,
) -> None:
    """Re-encrypt every stored secret and message with the current key."""
    from pocketping.crypto import generate_key as gen
    from pocketping.crypto import prepend_key_file
    from pocketping.rotation import reencrypt_all

    cfg = settings()
    if new_key:
        if cfg.encryption_key is not None:
            fail("--new-key works with the embedded key file; with POCKETPING_ENCRYPTION_KEY set, put the new key "
                 "there and the old one in POCKETPING_PREVIOUS_ENCRYPTION_KEYS", as_json)
        prepend_key_file(cfg.data_dir, gen())
    counts = run(lambda svc: reencrypt_all(svc.db, batch_size), as_json)
    emit({"reencrypted": counts}, as_json,
         lambda: "re-encrypted " + ", ".join(f"{n} {table}" for table, n in counts.items()))


# --- projects ----------------------------------------------------------------------------

def _project_human(p: dict[str, Any]) -> str:
    lines = [f"{p['id']}  {p['name']}", f"  public key:  {p['publicKey']}"]
    if "secretKey" in p:
        lines.append(f"  secret key:  {p['secretKey']}   (shown once: store it now)")
    else:
        lines.append(f"  secret key:  sk_live_...{p['secretKeyHint']}")
    lines.append(f"  origins:     {', '.join(p['allowedOrigins']) or 'any (restrict with --origin)'}")
    w = p["widget"]
    lines.append(f"  widget:      {w['primaryColor']}, {w['position']}, operator {w['operatorName']!r}, "
                 f"locale {w['locale'] or 'auto'}")
    if p.get("notifyEvents"):
        lines.append(f"  notable events: {', '.join(p['notifyEvents'])}")
    return "\n".join(lines)


@project_app.command("create")
def project_create(
    name: str,
    origin: Annotated[list[str] | None, typer.Option("--origin", help="Allowed widget origin "
                                                     "(repeatable; https://*.example.com for subdomains)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project; prints its public key and its secret key (shown once)."""
    from pocketping.actions.projects import create_project

    project, secret = run(lambda svc: create_project(svc, name, origin or []), as_json)
    data = {"id": project.id, "name": project.name, "publicKey": project.public_key, "secretKey": secret}
    full = {**project.to_api(), "secretKey": secret}
    emit(data | {k: v for k, v in full.items() if k not in data}, as_json, lambda: _project_human(full))


@project_app.command("list")
def project_list(as_json: JsonOpt = False) -> None:
    """List projects."""
    from pocketping.actions.projects import list_projects

    found = run(list_projects, as_json)
    emit([p.to_api() for p in found], as_json,
         lambda: "\n".join(f"{p.id}  {p.name}  {p.public_key}" for p in found) or "no projects yet")


@project_app.command("show")
def project_show(project_id: str, as_json: JsonOpt = False) -> None:
    """Show a project."""
    from pocketping.actions.projects import get_project

    project = run(lambda svc: get_project(svc, project_id), as_json)
    emit(project.to_api(), as_json, lambda: _project_human(project.to_api()))


@project_app.command("update")
def project_update(
    project_id: str,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    origin: Annotated[list[str] | None, typer.Option("--origin", help="Allowed origins (replaces the list; "
                                                                      "repeatable)")] = None,
    clear_origins: Annotated[bool, typer.Option("--clear-origins", help="Allow any origin")] = False,
    primary_color: Annotated[str | None, typer.Option(help="Widget color, e.g. #2563eb")] = None,
    operator_name: Annotated[str | None, typer.Option(help="Name shown in the widget header")] = None,
    welcome_message: Annotated[str | None, typer.Option(help="First line the visitor sees")] = None,
    position: Annotated[str | None, typer.Option(help="bottom-right or bottom-left")] = None,
    locale: Annotated[str | None, typer.Option(help="en, fr, de, es, pt, ar, or auto")] = None,
    offline_form: Annotated[bool | None, typer.Option("--offline-form/--no-offline-form",
                                                      help="Ask for an email when nobody is online")] = None,
    notify_event: Annotated[list[str] | None, typer.Option("--notify-event", help="Custom event name to post "
                                                           "into the team's threads (repeatable)")] = None,
    clear_notify_events: Annotated[bool, typer.Option("--clear-notify-events")] = False,
    collect_country: Annotated[bool | None, typer.Option("--collect-country/--no-collect-country",
                                                         help="Store the visitor's country")] = None,
    store_ip: Annotated[bool | None, typer.Option("--store-ip/--no-store-ip",
                                                  help="Store the visitor's IP address")] = None,
    identity_secret: Annotated[str | None, typer.Option(help="Require identify() calls to carry userHash = "
                                                        "HMAC-SHA256(secret, id)")] = None,
    clear_identity_secret: Annotated[bool, typer.Option("--clear-identity-secret")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a project's name, origins or widget settings (takes effect on running servers within seconds)."""
    from pocketping.actions.projects import update_project

    widget: dict[str, Any] = {}
    for key, value in (("primary_color", primary_color), ("operator_name", operator_name),
                       ("welcome_message", welcome_message), ("position", position),
                       ("offline_form", offline_form)):
        if value is not None:
            widget[key] = value
    if locale is not None:
        widget["locale"] = None if locale == "auto" else locale
    extra: dict[str, Any] = {}
    if notify_event is not None or clear_notify_events:
        extra["notify_events"] = notify_event or []
    if collect_country is not None:
        extra["collect_country"] = collect_country
    if store_ip is not None:
        extra["store_ip"] = store_ip
    origins = [] if clear_origins else origin
    project = run(lambda svc: update_project(svc, project_id, name=name, origins=origins, widget=widget,
                                             settings=extra, identity_secret=identity_secret,
                                             clear_identity_secret=clear_identity_secret), as_json)
    emit(project.to_api(), as_json, lambda: _project_human(project.to_api()))


@project_app.command("rotate-secret")
def project_rotate_secret(project_id: str, as_json: JsonOpt = False) -> None:
    """Replace the project's secret key; the old one stops working at once."""
    from pocketping.actions.projects import rotate_secret

    project, secret = run(lambda svc: rotate_secret(svc, project_id), as_json)
    emit({"id": project.id, "secretKey": secret}, as_json,
         f"new secret key for {project.id}: {secret}   (shown once: store it now)")


@app.command()
def demo(
    as_json: JsonOpt = False,
    base_url: Annotated[str, typer.Option(help="Where the server is reachable")] = "http://127.0.0.1:8000",
) -> None:
    """Create the demo project (once) and print how to try it."""
    from pocketping.demo import demo_info, print_demo

    if as_json:
        emit(run(lambda svc: demo_info(svc, base_url), as_json), True, "")
    else:
        run(lambda svc: print_demo(svc, base_url))


from pocketping import features  # noqa: E402

features.load()
features.register_cli(app)


def main() -> None:
    app()
