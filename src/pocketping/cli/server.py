"""``pocketping serve``, ``migrate``, ``generate-key``, ``rotate-key`` and ``demo``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, deps, emit, fail, group, run, settings, state

app = group()


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
    no_workers: Annotated[bool, typer.Option("--no-workers", help="Run only the web side; the workers run in "
                                                                  "`pocketping worker` processes")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Web processes on this port (more than one "
                                                                  "needs POCKETPING_REDIS_URL)")] = 1,
) -> None:
    """Run the server (applies pending migrations first)."""
    if database_url is not None:
        state.database_url = database_url
    overrides: dict[str, Any] = {"workers": False} if no_workers else {}
    cfg = settings(host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, **overrides)
    if (cfg.ssl_certfile is None) != (cfg.ssl_keyfile is None):
        fail("give both --ssl-certfile and --ssl-keyfile", False)
    if workers > 1 and not cfg.redis_url:
        fail(f"--workers {workers} needs POCKETPING_REDIS_URL (e.g. redis://127.0.0.1:6379/0): without Redis the "
             "web processes would not see each other's live updates", False, "redis_required")

    async def prepare(svc: Any) -> None:
        # (run() has already applied pending migrations)
        await check_alone(svc, "web")
        if demo:
            from pocketping.cli.demo import print_demo

            scheme = "https" if cfg.ssl_certfile else "http"
            await print_demo(svc, f"{scheme}://{cfg.host}:{cfg.port}", deps().demo_lines)

    run(prepare, cfg=cfg)
    sys.stdout.flush()
    deps().run_server(cfg, role="web", processes=workers)


@app.command()
def worker(
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes to run")] = 1,
) -> None:
    """Run only the workers (deliveries, webhooks, AI timers, pruning, Telegram polling, the Discord
    gateway, Slack Socket Mode) beside `pocketping serve --no-workers` (needs POCKETPING_REDIS_URL)."""
    cfg = settings(workers=True)
    if not cfg.redis_url:
        fail("pocketping worker needs POCKETPING_REDIS_URL (e.g. redis://127.0.0.1:6379/0): the web nodes hear "
             "of the replies it takes in through Redis", False, "redis_required")
    run(lambda svc: check_alone(svc, "worker"), cfg=cfg)
    sys.stdout.flush()
    deps().run_server(cfg, role="worker", processes=workers)


async def check_alone(svc: Any, role: str) -> None:
    """Refuse a second web process on one database without Redis, with what to set."""
    from pocketping.workers.nodes import NodeHeartbeat

    cfg = svc.settings
    role = role if role == "worker" or not cfg.workers else "web+workers"
    await NodeHeartbeat(svc.db, svc.clock, "-", role, redis=bool(cfg.redis_url),
                        every_seconds=cfg.node_heartbeat_seconds).check_alone()


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
    from pocketping.store.rotation import reencrypt_all
    from pocketping.store.search import rebuild

    cfg = settings()
    if new_key:
        if cfg.encryption_key is not None:
            fail("--new-key works with the embedded key file; with POCKETPING_ENCRYPTION_KEY set, put the new key "
                 "there and the old one in POCKETPING_PREVIOUS_ENCRYPTION_KEYS", as_json)
        prepend_key_file(cfg.data_dir, gen())
    from pocketping.actions.files import rotate_files

    columns = deps().encrypted_columns

    async def rotate(svc: Any) -> tuple[dict[str, int], int]:
        from pocketping.actions.kb_reindex import reindex_kb

        counts = await reencrypt_all(svc.db, columns, batch_size)
        counts["stored files"] = await rotate_files(svc)
        counts["knowledge-base chunks indexed"] = await reindex_kb(svc, batch_size)
        # The search index is keyed by the current key too: hashed again after re-encrypting.
        return counts, await rebuild(svc.db, batch_size)

    counts, indexed = run(rotate, as_json)
    emit({"reencrypted": counts, "searchIndexed": indexed}, as_json,
         lambda: "re-encrypted " + ", ".join(f"{n} {table}" for table, n in counts.items())
         + f"; search index rebuilt for {indexed} messages and visitors")



@app.command()
def demo(
    as_json: JsonOpt = False,
    base_url: Annotated[str, typer.Option(help="Where the server is reachable")] = "http://127.0.0.1:8000",
) -> None:
    """Create the demo project (once) and print how to try it."""
    from pocketping.cli.demo import demo_info, print_demo

    lines = deps().demo_lines
    if as_json:
        emit(run(lambda svc: demo_info(svc, base_url, lines), as_json), True, "")
    else:
        run(lambda svc: print_demo(svc, base_url, lines))




@app.command()
def status(as_json: JsonOpt = False) -> None:
    """The live nodes (role, host, pid, the leases each holds) and the outbox depth."""
    from pocketping.store import cluster

    async def go(svc: Any) -> dict[str, Any]:
        from datetime import timedelta

        from pocketping.workers.nodes import MISSED_BEATS

        async with svc.db.read() as tx:
            nodes = await cluster.live_nodes(tx, timedelta(seconds=svc.settings.node_heartbeat_seconds * MISSED_BEATS))
            leases = await cluster.held_leases(tx)
            depth = await cluster.outbox_depth(tx)
            now = tx.now
        return {
            "nodes": [{"id": n.id, "role": n.role, "host": n.host, "pid": n.pid, "redis": n.redis,
                       "startedAt": n.started_at.isoformat(), "heartbeatAgeSeconds": round(
                           (now - n.heartbeat_at).total_seconds(), 1),
                       "leases": [{"name": lease.name, "token": lease.token,
                                   "expiresAt": lease.expires_at.isoformat()}
                                  for lease in leases if lease.holder == n.id]} for n in nodes],
            "outbox": {"pending": depth.get("pending", 0), "failed": depth.get("failed", 0)},
        }

    found = run(go, as_json)

    def human() -> str:
        lines = [f"{len(found['nodes'])} live node(s)"]
        for n in found["nodes"]:
            held = ", ".join(f"{lease['name']} (token {lease['token']})" for lease in n["leases"]) or "no leases"
            lines.append(f"  {n['id']}  {n['role']:<11} pid {n['pid']} on {n['host']}  "
                         f"redis {'yes' if n['redis'] else 'no'}  beat {n['heartbeatAgeSeconds']}s ago  {held}")
        lines.append(f"outbox: {found['outbox']['pending']} pending, {found['outbox']['failed']} failed")
        return "\n".join(lines)

    emit(found, as_json, human)
