"""The wiring: how PocketPing is put together, in plain code, in one place.

Everything that would otherwise register itself by being imported is listed here: the
planners (who hears of each event), the workers (what runs in the background), the routes,
the platforms, the CLI's command groups, the demo's lines and the encrypted columns. Read
this module to see who hears of a message and what runs where.

It sits on top of every layer (server, cli, workers ... see docs/development.md) and only
imports what a call needs when the call is made, so ``pocketping --help`` stays light.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import asyncio

    from fastapi import APIRouter, FastAPI
    from sqlalchemy import Table

    from pocketping.actions.services import Services
    from pocketping.bridges.base import Bridge
    from pocketping.bridges.deps import BridgeDeps
    from pocketping.cli.common import CliDeps, DemoLine
    from pocketping.clock import Clock
    from pocketping.config import Settings
    from pocketping.core.delivery import Checkpoint, DoneWrite, OutboxHandler
    from pocketping.core.models import BridgeRecord, OutboxItem
    from pocketping.ephemeral import Delivered
    from pocketping.files.storage import BlobStore
    from pocketping.hub import Event, Hub
    from pocketping.metrics import Metrics
    from pocketping.relay.live import BridgeMaker
    from pocketping.relay.manager import BridgeManager
    from pocketping.server.app import WebSocketRoute
    from pocketping.server.inbox.sockets import InboxSockets
    from pocketping.server.mail_inbound import MailReceiver
    from pocketping.server.state import Edges
    from pocketping.store.db import Database, Planner, Tx
    from pocketping.workers.ai import AIScheduler
    from pocketping.workers.config_watcher import ConfigWatcher
    from pocketping.workers.leases import LeaseKeeper
    from pocketping.workers.nodes import NodeHeartbeat
    from pocketping.workers.outbox import OutboxWorker
    from pocketping.workers.presence import PresenceTracker
    from pocketping.workers.pruning import Pruner

# --- what hears of each event -------------------------------------------------------------

def planners(svc: Services) -> tuple[Planner, ...]:
    """Who must be told, durably, of each event: outbox rows in the event's own transaction."""
    from pocketping.ai.timer import AITimerPlanner
    from pocketping.mail.planner import MailPlanner
    from pocketping.relay.planner import plan_bridges
    from pocketping.webhooks.planner import plan_public_event

    return (
        plan_public_event,  # the public event log (the SSE stream) and every subscribed webhook
        plan_bridges,  # the conversation's threads in Telegram, Discord and Slack
        AITimerPlanner(svc.ai_due),  # the AI fallback's timer
        MailPlanner(mail_ready=svc.settings.mail_ready()),  # mail to visitors who left an address
    )


def sealed_after_migrations(db: Database) -> Database:
    """The database, encrypting after its migrations what older versions stored in clear."""
    from pocketping.store.sealing import seal_plaintext

    db.after_migrate.append(seal_plaintext)
    return db


def encrypted_columns() -> tuple[tuple[Table, str], ...]:
    """Every column stored encrypted; ``pocketping rotate-key`` re-encrypts them all."""
    from pocketping.store import schema

    return (
        (schema.projects, "identity_secret"),
        (schema.sessions, "identity"),
        (schema.sessions, "rating_comment"),
        (schema.messages, "text"),
        (schema.outbox, "payload"),
        (schema.bridges, "config"),
        (schema.webhooks, "secret"),
        (schema.event_log, "payload"),
        (schema.ai_settings, "api_key"),
        # attachments (the files' bytes are re-sealed by rotate-key too: actions.files.rotate_files)
        (schema.messages, "attachments"),
        (schema.files, "name"),
        (schema.messages, "history"),  # edits: the earlier versions of a message
        # what identifies a visitor (docs/privacy.md) and the knowledge base's text
        (schema.sessions, "meta"),
        (schema.sessions, "ip"),
        (schema.sessions, "country"),
        (schema.kb_sources, "title"),
        (schema.kb_sources, "location"),
        (schema.kb_chunks, "heading"),
        (schema.kb_chunks, "text"),
    )


def demo_lines() -> tuple[DemoLine, ...]:
    """What ``make serve`` / ``pocketping demo`` prints besides the demo project."""
    from pocketping.cli.operator import demo_operator

    return (demo_operator,)


# --- the platforms ------------------------------------------------------------------------

def bridge_maker(deps: BridgeDeps) -> BridgeMaker:
    """Makes the ``Bridge`` for a stored record, for every platform this server runs
    (``pocketping.bridges.platforms.PLATFORMS``), all sharing one set of ``BridgeDeps``."""
    from pocketping.bridges.platforms import PLATFORMS

    def make(record: BridgeRecord) -> Bridge | None:
        factory = PLATFORMS.get(record.type)
        return factory(record, deps) if factory is not None else None

    return make


def _cli_bridge_maker(settings: Settings) -> BridgeMaker:
    """For ``pocketping doctor``: bridges made to be checked, never started."""
    from pocketping.clock import SystemClock
    from pocketping.relay.deps import build_bridge_deps

    return bridge_maker(build_bridge_deps(settings, SystemClock()))


# --- services and the running node ----------------------------------------------------------

def build_services(settings: Settings, *, clock: Clock | None = None, hub: Hub | None = None,
                   create_key: bool = True) -> Services:
    """Every dependency the actions need, for the server and the CLI alike."""
    from pocketping.actions.services import Services
    from pocketping.clock import SystemClock
    from pocketping.crypto import load_keyring
    from pocketping.hub import LocalHub
    from pocketping.metrics import new_metrics
    from pocketping.ratelimit import RateLimiter
    from pocketping.store.db import Database

    clock = clock or SystemClock()
    keyring = load_keyring(
        settings.encryption_key.get_secret_value() if settings.encryption_key else None,
        settings.previous_encryption_keys.get_secret_value() if settings.previous_encryption_keys else None,
        settings.data_dir,
        create=create_key,
    )
    svc = Services(
        settings=settings,
        db=sealed_after_migrations(Database(settings.database_url, keyring, clock)),
        hub=hub or (_redis_hub(settings) if settings.redis_url else LocalHub()),
        clock=clock,
        visitor_limiter=RateLimiter(settings.rate_limit_messages_per_minute, clock),
        connection_limiter=RateLimiter(settings.rate_limit_connections_per_minute, clock),
        metrics=new_metrics(settings),
        files=file_store(settings),
        upload_limiter=RateLimiter(settings.rate_limit_uploads_per_minute, clock),
    )
    svc.planners = planners(svc)
    from pocketping.redishub import RedisHub, SharedRateLimiter

    if isinstance(svc.hub, RedisHub):  # several nodes: catch-up by seq, limits counted in Redis
        from pocketping.actions.timeline import timeline_events

        hub = svc.hub
        if hub.catch_up is None:
            hub.catch_up = lambda session_id, after, upto: timeline_events(svc, session_id, after, upto)
        svc.visitor_limiter = SharedRateLimiter(hub, "visitor", settings.rate_limit_messages_per_minute, clock)
        svc.connection_limiter = SharedRateLimiter(hub, "ip", settings.rate_limit_connections_per_minute, clock)
    if svc.metrics.enabled:
        svc.planners = (*svc.planners, _count_messages(svc.metrics))
    return svc


def _redis_hub(settings: Settings) -> Hub:
    from pocketping.redishub import RedisHub

    assert settings.redis_url is not None
    return RedisHub(settings.redis_url, prefix=settings.redis_prefix)


def file_store(settings: Settings) -> BlobStore:
    """Where attachments are stored: POCKETPING_STORAGE_URL (a folder, or an S3-compatible bucket)."""
    from pocketping.files.storage import open_store

    secret = settings.s3_secret_access_key
    return open_store(settings.storage_url, settings.data_dir, endpoint_url=settings.s3_endpoint_url,
                      access_key_id=settings.s3_access_key_id,
                      secret_access_key=secret.get_secret_value() if secret else None, region=settings.s3_region)


@dataclass
class Node:
    """One running PocketPing process: its services, the edges' shared objects, and the
    workers (which run only with ``POCKETPING_WORKERS`` on)."""

    services: Services
    outbox: OutboxWorker
    delivered: Delivered
    bridge_deps: BridgeDeps  # one pacer and one Slack events router for the process
    inbox: InboxSockets
    edges: Edges
    watcher: ConfigWatcher
    bridges: BridgeManager | None = None
    ai: AIScheduler | None = None
    presence: PresenceTracker | None = None
    pruner: Pruner | None = None
    heartbeat: NodeHeartbeat | None = None
    leases: LeaseKeeper | None = None
    mail_receiver: MailReceiver | None = None  # answers to reply mails (POCKETPING_SMTP_INBOUND)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> Callable[[], Awaitable[None]]:
        """Start the workers; returns what stops them (deliveries first: they use the
        bridges' clients)."""
        import asyncio

        svc = self.services
        hub_start = getattr(svc.hub, "start", None)  # the Redis hub connects and subscribes
        if hub_start is not None:
            await hub_start()
            self._stops.append(svc.hub.stop)  # type: ignore[attr-defined]
        if self.heartbeat is not None:
            try:
                await self.heartbeat.start()
            except BaseException:
                await self.stop()
                raise
            self._stops.append(self.heartbeat.stop)
        if svc.settings.workers or svc.settings.redis_url:  # web-only nodes follow changes too
            self._tasks.append(asyncio.create_task(self.watcher.run(), name="config-watcher"))
        if self.mail_receiver is not None:
            await self.mail_receiver.start()
            self._stops.append(self.mail_receiver.stop)
        if svc.settings.workers:
            self.outbox.start()
            for worker in (self.bridges, self.presence):
                if worker is not None:
                    await worker.start()
                    self._stops.append(worker.stop)
            if self.ai is not None:
                self.ai.start()
                self._stops.append(self.ai.stop)
            if self.pruner is not None:
                self.pruner.start()
                self._stops.append(self.pruner.stop)
            if self.leases is not None:
                self.leases.start()
                self._stops.append(self.leases.stop)
        return self.stop

    async def stop(self) -> None:
        import asyncio
        import contextlib

        await self.outbox.stop()
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                await stop()
        self._stops.clear()
        from pocketping.webhooks.delivery import WebhookDelivery

        for handler in self.outbox.handlers.values():
            handler = getattr(handler, "inner", handler)  # under _MeteredHandler
            if isinstance(handler, WebhookDelivery):
                await handler.aclose()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def build_node(settings: Settings, *, clock: Clock | None = None, hub: Hub | None = None,
               services: Services | None = None, worker: bool = False) -> Node:
    """Everything a process runs; ``worker``: the workers alone (``pocketping worker``)."""
    from pocketping.actions.files import prune_files
    from pocketping.actions.team import TeamFiles, ThreadActions
    from pocketping.ephemeral import Delivered
    from pocketping.relay.deps import build_bridge_deps
    from pocketping.relay.erasure import TARGET as ERASE_TARGET
    from pocketping.relay.erasure import EraseDelivery
    from pocketping.relay.manager import BridgeManager
    from pocketping.server.inbox.sockets import InboxSockets
    from pocketping.server.state import Edges
    from pocketping.webhooks.delivery import WebhookDelivery
    from pocketping.workers.ai import AIScheduler
    from pocketping.workers.config_watcher import ConfigWatcher
    from pocketping.workers.leases import LeaseKeeper
    from pocketping.workers.nodes import NodeHeartbeat
    from pocketping.workers.outbox import OutboxWorker
    from pocketping.workers.presence import PresenceTracker
    from pocketping.workers.pruning import Pruner, prune_event_log, prune_inbound_seen
    from pocketping.workers.retention import run_retention

    svc = services or build_services(settings, clock=clock, hub=hub)
    settings, db = svc.settings, svc.db
    outbox = OutboxWorker(db, svc.clock, poll_seconds=settings.outbox_poll_seconds,
                          lease_seconds=settings.outbox_lease_seconds,
                          retry_window_seconds=settings.outbox_retry_window_seconds,
                          keep_done_days=settings.delivery_retention_days,
                          concurrency=settings.outbox_concurrency)
    svc.on_outbox_rows = outbox.notify
    delivered = Delivered(svc.hub)
    bridge_deps = build_bridge_deps(settings, svc.clock)
    make = bridge_maker(bridge_deps)
    inbox = InboxSockets(delivered)
    watcher = ConfigWatcher(db, svc.clock, settings.config_poll_seconds)
    # Operators added, removed or given a new password with the CLI: open inboxes follow.
    watcher.listeners.append(inbox.refresh_all)
    outbox.register("webhook", WebhookDelivery(db, svc.clock, timeout_seconds=settings.webhook_timeout_seconds,
                                               allow_private=settings.allow_private_urls))
    # --- mail (docs/email.md): the outbox's target "mail" when SMTP is configured
    if settings.mail_ready():
        from pocketping.mail.delivery import MailDelivery

        outbox.register("mail", MailDelivery(db, svc.clock, settings))
    mail_receiver = None
    if settings.smtp_inbound and settings.reply_domain:
        from pocketping.server.mail_inbound import MailReceiver

        mail_receiver = MailReceiver(svc, settings.smtp_inbound, settings.reply_domain)
    node = Node(services=svc, outbox=outbox, delivered=delivered, bridge_deps=bridge_deps, inbox=inbox,
                edges=Edges(inbox=inbox, slack_events=bridge_deps.slack_events, make_bridge=make), watcher=watcher,
                mail_receiver=mail_receiver)
    if settings.workers:
        node.bridges = BridgeManager(db, svc.hub, svc.clock, make, ThreadActions(svc), delivered,
                                     outbox_wake=outbox.notify, max_text_chars=settings.max_text_chars,
                                     public_base=settings.public_base(),
                                     project_ttl_seconds=settings.config_poll_seconds,
                                     files=TeamFiles(svc))  # attachments both ways
        node.edges.bridges = node.bridges
        outbox.register("bridge", node.bridges.delivery)
        # Erasures (docs/erasure.md): the copies in the chat apps and the stored files.
        outbox.register(ERASE_TARGET, EraseDelivery(db, svc.files, node.bridges.live))
        watcher.listeners.append(node.bridges.sync)
        node.presence = PresenceTracker(svc)
        node.ai = AIScheduler(svc, svc.ai_due, poll_seconds=settings.ai_poll_seconds)
        node.pruner = Pruner(svc.clock, [
            ("delivered outbox rows", outbox.prune),
            ("the event log", lambda: prune_event_log(db, settings.event_retention_days)),
            ("inbound platform ids", lambda: prune_inbound_seen(db)),
            ("unsent uploads and expired files", lambda: prune_files(svc, settings.file_retention_days)),
            ("scheduled knowledge-base crawls", lambda: _refresh_crawled_sites(svc)),  # kb add --crawl --refresh
            ("conversations past their retention", lambda: run_retention(svc)),  # project update --retention-days
        ])
    _several_nodes(node, NodeHeartbeat, LeaseKeeper, worker=worker)
    _watch_metrics(node)
    return node


async def _refresh_crawled_sites(svc: Services) -> int:
    """The knowledge base's scheduled crawls. The crawler (and the knowledge base's actions, an
    HTTP client, the HTML and XML parsers) is imported only where some project has a crawled site."""
    from pocketping.store import kb as kb_repo

    async with svc.db.read() as tx:
        if not await kb_repo.has_sites(tx):
            return 0
    from pocketping.actions import kb as kb_actions

    return await kb_actions.refresh_due(svc)


def _several_nodes(node: Node, heartbeat: type[NodeHeartbeat], keeper: type[LeaseKeeper], *,
                   worker: bool) -> None:
    """Several nodes on one database (docs/deployment.md): a heartbeat per node; with Redis, a
    lease per single platform connection, and new outbox rows announced to the worker nodes."""
    import asyncio

    from pocketping.hub import Event
    from pocketping.redishub import new_node_id

    svc = node.services
    settings = svc.settings
    node_id = getattr(svc.hub, "node_id", None) or new_node_id()
    role = "worker" if worker else "web+workers" if settings.workers else "web"
    node.heartbeat = heartbeat(svc.db, svc.clock, node_id, role, redis=bool(settings.redis_url),
                               every_seconds=settings.node_heartbeat_seconds)
    if not settings.redis_url:
        return
    outbox = node.outbox
    if node.bridges is not None:
        leases = node.leases = keeper(svc.db, svc.clock, node_id, lease_seconds=settings.lease_seconds)
        live = node.bridges.live
        live.use_ownership(leases)
        leases.wanted = live.wanted_leases
        leases.on_gained = leases.on_lost = live.restart
    watcher = node.watcher
    wakes = {"outbox.wake": outbox.notify if settings.workers else None, "config.changed": watcher.wake}

    def on_event(event: Event) -> None:
        wake = wakes.get(event.type)
        if wake is not None:
            wake()

    svc.hub.subscribe_all(on_event)
    local_wake = svc.on_outbox_rows
    wake = Event("outbox.wake", "")
    queued: list[bool] = []

    def send_wake() -> None:
        queued.clear()
        svc.hub.publish(wake)

    def announce() -> None:  # the workers may run in another process: one wake per loop turn
        local_wake()
        if not queued:
            queued.append(True)
            asyncio.get_running_loop().call_soon(send_wake)

    svc.on_outbox_rows = announce


# --- metrics (GET /metrics; docs/deployment.md "Monitoring") ---------------------------------

def _count_messages(metrics: Metrics) -> Planner:
    """Counts each stored message by sender once its transaction has committed."""
    async def plan(tx: Tx, event: Event) -> None:
        if event.type == "message.created":
            sender = str((event.data.get("message") or {}).get("sender", "unknown"))
            tx.after_commit.append(lambda: metrics.message_stored(sender))

    return plan


class _MeteredHandler:
    """An outbox handler whose every outcome is counted, by platform and outcome."""

    def __init__(self, inner: OutboxHandler, metrics: Metrics, platform_of: Callable[[OutboxItem], str]) -> None:
        self.inner = inner
        self.metrics = metrics
        self.platform_of = platform_of

    async def prepare(self, items: list[OutboxItem]) -> None:
        prepare = getattr(self.inner, "prepare", None)
        if prepare is not None:
            await prepare(items)

    def done_write(self, item: OutboxItem) -> DoneWrite | None:
        done_write = getattr(self.inner, "done_write", None)
        return done_write(item) if done_write is not None else None

    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        from pocketping.bridges.pacing import PacingBusy
        from pocketping.errors import DeliveryError

        try:
            result = await self.inner.deliver(item, checkpoint)
        except PacingBusy:
            self._count(item, "deferred")  # our own pacing: nothing went wrong
            raise
        except DeliveryError as exc:
            self._count(item, "failed" if exc.permanent else "retried")
            if item.target == "webhook":
                answered = exc.message.startswith("HTTP ")
                self.metrics.webhook_failed(f"http_{exc.status // 100}xx" if answered else "unreachable")
            raise
        except Exception:
            self._count(item, "crashed")
            if item.target == "webhook":
                self.metrics.webhook_failed("crashed")
            raise
        self._count(item, "skipped" if result and "skipped" in result else "delivered")
        return result

    def _count(self, item: OutboxItem, outcome: str) -> None:
        self.metrics.delivery(self.platform_of(item), outcome)


def _watch_metrics(node: Node) -> None:
    """Metrics on: count every delivery, and say what to read at scrape time."""
    metrics, db = node.services.metrics, node.services.db
    if not metrics.enabled:
        return
    from pocketping.store import outbox as outbox_repo

    bridges = node.bridges

    def platform_of(item: OutboxItem) -> str:
        if item.target != "bridge":
            return item.target
        live = bridges.live.live.get(item.target_id) if bridges is not None else None
        return live.record.type if live is not None else "bridge"

    async def outbox_stats() -> list[tuple[str, int, float]]:
        async with db.read() as tx:
            rows = await outbox_repo.pending_by_target(tx)
            now = tx.now
        return [(target, n, max(0.0, (now - oldest).total_seconds())) for target, n, oldest in rows]

    pool = db.engine.pool
    node.outbox.handlers = {target: _MeteredHandler(handler, metrics, platform_of)
                            for target, handler in node.outbox.handlers.items()}
    metrics.watch(inbox_sockets=lambda: len(node.inbox.open),
                  pool_in_use=lambda: int(getattr(pool, "checkedout", lambda: 0)()),
                  outbox=outbox_stats, outbox_targets=tuple(node.outbox.handlers))


# --- the HTTP/WebSocket edge ----------------------------------------------------------------

def routers() -> list[APIRouter]:
    """The HTTP routes served from the start: the health checks and the widget's files."""
    from pocketping.server import health, pages

    return [health.router, pages.router]


def later_routes() -> tuple[list[APIRouter], list[WebSocketRoute]]:
    """Every other route, imported on the first request for one of them (server/app.py's
    ``_Later``): the REST API, the inbox, platform webhooks, metrics, file links, mail links."""
    from pocketping.server import mail, metrics, platforms
    from pocketping.server.inbox import api as inbox_api
    from pocketping.server.inbox import pages as inbox_pages
    from pocketping.server.inbox.socket import operator_socket
    from pocketping.server.rest import ai as rest_ai
    from pocketping.server.rest import files as rest_files
    from pocketping.server.rest import router as rest

    return ([metrics.router, rest, platforms.router, inbox_pages.router, inbox_api.router, rest_ai.router,
             rest_files.links, mail.router], [("/inbox/ws", operator_socket)])


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, hub: Hub | None = None,
               services: Services | None = None, migrate: bool = True) -> FastAPI:
    """The whole server (``/ws`` for widgets, REST, inbox, platform webhooks, workers)."""
    from pocketping.config import Settings
    from pocketping.server.app import build_app

    node = build_node(settings or (services.settings if services else Settings()), clock=clock, hub=hub,
                      services=services)
    app = build_app(node.services, node.edges, routers=routers(), websockets=[], later=later_routes,
                    start=node.start, migrate=migrate)
    app.state.node = node
    return app


def run_server(settings: Settings, *, role: str = "web", processes: int = 1) -> None:
    """``pocketping serve`` / ``worker``: the long-running server, in this process (``pocketping.run``)."""
    from pocketping.run import serve

    sys.stdout.flush()
    serve(settings, role=role, processes=processes, create_app=create_app, build_node=build_node)


def make_app() -> FastAPI:
    """``serve --workers N``: each web process builds its own app, from the environment."""
    from pocketping.config import Settings

    leave_out_unused_imports()
    return create_app(Settings(), migrate=False)


# --- the command line ---------------------------------------------------------------------------

def _cli_deps() -> CliDeps:
    from pocketping.cli.common import CliDeps

    return CliDeps(build_services=build_services, run_server=run_server, bridge_maker=_cli_bridge_maker,
                   encrypted_columns=encrypted_columns(), demo_lines=demo_lines())


def _print_version(wanted: bool) -> None:
    if wanted:
        from pocketping import __version__

        typer.echo(f"pocketping {__version__}")
        raise typer.Exit()


def cli_app() -> typer.Typer:
    """The ``pocketping`` command: every group and command, listed here."""
    from pocketping.cli import ai, bridge, kb, operator, privacy, project, reply, server, stats, webhook
    from pocketping.cli.common import state, use

    app = typer.Typer(help="PocketPing: self-hostable live chat bridged to Telegram, Discord and Slack.",
                      no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                      rich_markup_mode=None, context_settings={"max_content_width": 100})

    @app.callback()
    def _global(database_url: Annotated[str | None, typer.Option(
            "--database-url", envvar="POCKETPING_DATABASE_URL",
            help="Database URL (sqlite:///path.db, postgresql://..., mysql://...).")] = None,
            version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                  help="Print the version and exit.")] = False) -> None:
        state.database_url = database_url
        use(_cli_deps())

    app.add_typer(server.app)  # serve, migrate, generate-key, rotate-key, demo
    app.add_typer(project.app, name="project")
    app.add_typer(operator.app, name="operator")
    app.add_typer(webhook.app, name="webhook")
    app.add_typer(bridge.app, name="bridge")
    app.command("doctor")(bridge.doctor)
    app.add_typer(ai.app, name="ai")
    app.add_typer(kb.app, name="kb")
    app.add_typer(reply.app, name="reply")
    app.command("stats")(stats.stats)
    app.command("erase")(privacy.erase)
    app.command("retention")(privacy.retention)
    return app


def main() -> None:
    leave_out_unused_imports()
    cli_app()()


def leave_out_unused_imports() -> None:
    """Optional imports of our libraries that PocketPing never uses: a None entry makes each fail
    as if it were not installed. httpx's command-line tool (rich, pygments: ~4 MB, imported when
    they are installed, as they are for Typer); pydantic's v1 compatibility package (1.4 MB and
    20 ms of every start: FastAPI imports it to ask whether a route's types are v1 models, and
    none of ours is)."""
    for name in ("httpx._main", "pydantic.v1"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
