"""A fake Slack on 127.0.0.1: Web API, signed Events API deliveries and Socket Mode.

It runs on its own thread and event loop (``FakeHarness``), so one instance can serve a
whole test session and any number of servers and bridges; its controls are safe to call
from any thread or loop, and ``wait_until`` waits for a state change without sleeping.
Point ``POCKETPING_SLACK_API_URL`` at ``api_url``.

    slack = FakeSlack().start()
    app = slack.create_app()                      # a Slack app with its bot, tokens, secret
    channel = slack.create_channel(members=[app.bot_user_id])
    app.request_url = server.base_url + "/bridges/slack/events"    # or app.socket_mode = True
    await slack.operator_reply(channel.id, thread_ts, "Hello!")     # a person answers in a thread
    slack.fail("chat.postMessage", status=429, retry_after=7)       # the next call is rate limited
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Coroutine, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from pocketping.clock import Clock, SystemClock
from pocketping_testkit.fakes.harness import FakeHarness
from pocketping_testkit.fakes.slack.delivery import Deliverer, signature
from pocketping_testkit.fakes.slack.files import Files
from pocketping_testkit.fakes.slack.state import (
    DEFAULT_SCOPES,
    Attempt,
    Call,
    Channel,
    Delivery,
    FakeApp,
    Fault,
    Said,
    TsClock,
    escape,
    new_id,
    rich_text,
    user_record,
)
from pocketping_testkit.fakes.slack.web import WebApi, changed_event, deleted_event, message_event

T = TypeVar("T")

__all__ = ["DEFAULT_SCOPES", "Attempt", "Channel", "Delivery", "FakeApp", "FakeSlack", "Said", "rich_text", "signature"]


class FakeSlack(FakeHarness):
    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.team = {"id": new_id("T"), "name": "PocketPing Test", "domain": "pocketping-test"}
        self.apps: dict[str, FakeApp] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.ts = TsClock()
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        # Behaviour knobs (documented Slack numbers by default, except the retry pauses).
        self.orphan_replies = "error"  # a reply to a missing parent: "error" (thread_not_found) or "top_level"
        self.echo_bot_messages = True  # apps receive events for bot posts too, their own included
        self.event_timeout = 3.0  # seconds Slack waits for a 2xx or an ack
        self.retry_delays: tuple[float, ...] = (0.0, 0.0, 0.0)  # Slack: at once, 1 min, 5 min
        self.socket_wait = 5.0  # how long an event waits for a Socket Mode connection
        self.disconnect_grace = 1.0  # how long a connection told to go stays open once replaced
        self._tickets: dict[str, str] = {}
        self._pending: set[asyncio.Future[Any]] = set()
        self.port = 0
        self._release: asyncio.Event | None = None
        self._closing = False
        self.deliverer: Deliverer | None = None
        self.files = Files(self)
        self.web = WebApi(self)
        self.operator = self.create_user("sarah", display_name="Sarah", real_name="Sarah Connor")

    # --- running ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def start(self, timeout: float = 30.0) -> FakeSlack:
        super().start(timeout)
        return self

    async def startup(self) -> None:
        self._release = asyncio.Event()
        self.deliverer = Deliverer(self)
        app = Starlette(routes=[Route("/api/{method}", self.web.endpoint, methods=["GET", "POST"]),
                                Route("/upload/v1/{upload}", self.files.upload_endpoint, methods=["POST"]),
                                Route("/files-pri/{file}/{name}", self.files.download_endpoint, methods=["GET"]),
                                WebSocketRoute("/link/", self._link)])
        self.port = await self.serve_http(app)

    async def shutdown(self) -> None:
        self._closing = True  # no new deliveries from here on
        if self._release is not None:
            self._release.set()  # calls left hanging end now
        pending = list(self._pending)  # events still waiting for an app (a socket that never came)
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self.deliverer is not None:
            await self.deliverer.aclose()

    async def __aenter__(self) -> FakeSlack:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the fake's loop, awaited from whichever loop the caller is on."""
        assert self.loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    # --- the workspace ----------------------------------------------------------------------

    def create_app(self, name: str = "pocketping", *, scopes: Iterable[str] = DEFAULT_SCOPES,
                   request_url: str | None = None, socket_mode: bool = False) -> FakeApp:
        bot_user = new_id("U")
        app = FakeApp(app_id=new_id("A"), name=name, bot_user_id=bot_user, bot_id=new_id("B"),
                      bot_token=f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(12)}",
                      app_token=f"xapp-1-{secrets.token_hex(6)}-{secrets.token_hex(16)}",
                      signing_secret=secrets.token_hex(16), verification_token=secrets.token_urlsafe(18),
                      scopes=set(scopes), request_url=request_url, socket_mode=socket_mode)
        with self.lock:
            self.apps[app.app_id] = app
            self.users[bot_user] = user_record(bot_user, self.team["id"], name, name, name, is_bot=True)
        return app

    def create_user(self, name: str, *, display_name: str = "", real_name: str = "") -> str:
        user_id = new_id("U")
        with self.lock:
            self.users[user_id] = user_record(user_id, self.team["id"], name, display_name, real_name or name)
        return user_id

    def create_channel(self, name: str | None = None, *, private: bool = False, members: Iterable[str] = (),
                       archived: bool = False) -> Channel:
        channel = Channel(id=new_id("G" if private else "C"), name=name or f"support-{secrets.token_hex(3)}",
                          is_private=private, is_archived=archived, members={self.operator, *members})
        with self.lock:
            self.channels[channel.id] = channel
        return channel

    def invite(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.channels[channel_id].members.add(user_id)

    def app_by_bot_token(self, token: str) -> FakeApp | None:
        return next((a for a in self.apps.values() if secrets.compare_digest(a.bot_token, token)), None)

    def app_by_app_token(self, token: str) -> FakeApp | None:
        return next((a for a in self.apps.values() if secrets.compare_digest(a.app_token, token)), None)

    # --- looking at what happened -----------------------------------------------------------

    def top_level(self, channel_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self.channels[channel_id].live()
                    if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """The replies in a thread (not the parent), oldest first."""
        with self.lock:
            return [dict(m) for m in self.channels[channel_id].thread(thread_ts) if m["ts"] != thread_ts]

    def calls_to(self, method: str, app: FakeApp | None = None) -> list[Call]:
        """Web API calls of ``method`` so far (with ``app``: made with that app's tokens only)."""
        tokens = None if app is None else (app.bot_token, app.app_token)
        with self.lock:
            return [c for c in self.calls if c.method == method and (tokens is None or c.token in tokens)]

    def _record_call(self, method: str, params: dict[str, Any], token: str) -> None:
        with self.lock:
            self.calls.append(Call(method, dict(params), token, self.clock.now().timestamp()))

    # --- failures ---------------------------------------------------------------------------

    def fail(self, method: str, *, status: int | None = None, error: str | None = None,
             retry_after: float | None = None, hang: bool = False, after: bool = False, times: int = 1,
             skip: int = 0, app: FakeApp | None = None) -> None:
        """The next ``times`` calls of ``method`` ("*": any) fail: HTTP ``status`` (429 with ``retry_after``,
        5xx), ``{"ok": false, "error": error}``, or ``hang`` (no answer until ``release``). With ``after``,
        the call takes effect first and only its answer is lost. With ``app``, only that app's calls;
        with ``skip``, only after that many of them went through."""
        token = None if app is None else (app.app_token if method == "apps.connections.open" else app.bot_token)
        with self.lock:
            self.faults.setdefault(method, []).append(
                Fault(status=status, error=error, retry_after=retry_after, hang=hang, after=after, times=times,
                      skip=skip, token=token))

    def heal(self, app: FakeApp | None = None) -> None:
        """Forget the failures still waiting (all, or one app's): Slack is well again."""
        tokens = None if app is None else {app.bot_token, app.app_token}
        with self.lock:
            for queue in self.faults.values():
                queue[:] = [f for f in queue if tokens is not None and f.token not in tokens]

    def _take_fault(self, method: str, token: str) -> Fault | None:
        with self.lock:
            for key in (method, "*"):
                queue = self.faults.get(key) or []
                for fault in queue:
                    if fault.token is None or fault.token == token:
                        if fault.skip > 0:
                            fault.skip -= 1
                            return None
                        fault.times -= 1
                        if fault.times <= 0:
                            queue.remove(fault)
                        return fault
        return None

    def release(self) -> None:
        """Let every hanging call finish (with a 504)."""
        if self.loop is not None and self._release is not None:
            release = self._release

            def _set() -> None:
                release.set()
                self._release = asyncio.Event()

            self.loop.call_soon_threadsafe(_set)

    async def _hang(self) -> None:
        assert self._release is not None
        await self._release.wait()

    async def _retry_pause(self, retry: int) -> None:
        delays = self.retry_delays
        if delays and delays[min(retry, len(delays)) - 1] > 0:
            await asyncio.sleep(delays[min(retry, len(delays)) - 1])

    # --- events -----------------------------------------------------------------------------

    def envelope(self, app: FakeApp, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "token": app.verification_token, "team_id": self.team["id"], "context_team_id": self.team["id"],
            "context_enterprise_id": None, "api_app_id": app.app_id, "event": event, "type": "event_callback",
            "event_id": new_id("Ev", 12), "event_time": int(self.clock.now().timestamp()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team["id"], "user_id": app.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": "4-" + uuid.uuid4().hex,
        }

    def _emit(self, channel: Channel, event: dict[str, Any]) -> list[asyncio.Future[Delivery]]:
        """Send ``event`` to every app whose bot is in the channel (must run on the fake's loop)."""
        if self._closing or (event.get("bot_id") and not self.echo_bot_messages):
            return []
        scope = "groups:history" if channel.is_private else "channels:history"
        futures: list[asyncio.Future[Delivery]] = []
        for app in list(self.apps.values()):
            if app.bot_user_id in channel.members and scope in app.scopes and (app.request_url or app.socket_mode):
                assert self.deliverer is not None
                future = asyncio.ensure_future(self.deliverer.deliver(app, self.envelope(app, event)))
                self._pending.add(future)
                future.add_done_callback(self._pending.discard)
                futures.append(future)
        return futures

    def _delete(self, channel: Channel, message: dict[str, Any]) -> list[asyncio.Future[Delivery]]:
        message["_deleted"] = True
        thread_ts = message.get("thread_ts")
        parent = channel.find(str(thread_ts)) if thread_ts and thread_ts != message["ts"] else None
        if parent is not None and parent.get("reply_count"):
            # Slack counts the replies still there: a deleted parent whose replies are all gone
            # takes the thread along.
            parent["reply_count"] = int(parent["reply_count"]) - 1
        return self._emit(channel, deleted_event(channel, message, self.ts.next()))

    async def settle(self) -> None:
        """Wait until every event sent so far has been delivered (or given up on)."""

        async def wait() -> None:
            while self._pending:
                await asyncio.gather(*list(self._pending), return_exceptions=True)

        await self._on_loop(wait())

    # --- people in the workspace ------------------------------------------------------------

    async def operator_reply(self, channel_id: str, thread_ts: str | None, text: str, *, user: str | None = None,
                             blocks: list[dict[str, Any]] | None = None, files: list[dict[str, Any]] | None = None,
                             subtype: str | None = None, wire: bool = False) -> Said:
        """A person writes in a thread (or, without ``thread_ts``, in the channel). As Slack's clients
        do, ``text`` is sent escaped and mirrored as rich-text blocks unless ``blocks`` are given;
        with ``wire``, ``text`` is already Slack's wire format (``<https://x|label>``, ``<@U1>``)."""

        async def act() -> Said:
            with self.lock:
                channel = self.channels[channel_id]
                message: dict[str, Any] = {
                    "type": "message", "ts": self.ts.next(), "user": user or self.operator,
                    "text": text if wire else escape(text), "team": self.team["id"],
                    "client_msg_id": str(uuid.uuid4()),
                    "blocks": blocks if blocks is not None else rich_text(text),
                }
                if subtype:
                    message["subtype"] = subtype
                if files:
                    message["files"] = files
                if thread_ts:
                    message["thread_ts"] = thread_ts
                    parent = channel.find(thread_ts)
                    if parent is not None:
                        parent["reply_count"] = int(parent.get("reply_count") or 0) + 1
                channel.messages.append(message)
                futures = self._emit(channel, message_event(message, channel))
            self.changed()
            return Said(message["ts"], list(await asyncio.gather(*futures)))

        return await self._on_loop(act())

    async def operator_shares_file(self, channel_id: str, thread_ts: str, name: str, data: bytes, mimetype: str,
                                   text: str = "") -> Said:
        """A person drops a file into a thread (a ``file_share`` message with ``files``)."""
        shared = self.files.add_shared(name, data, mimetype)
        return await self.operator_reply(channel_id, thread_ts, text, files=[shared], subtype="file_share")

    async def operator_edit(self, channel_id: str, ts: str, text: str) -> Said:
        async def act() -> Said:
            with self.lock:
                channel = self.channels[channel_id]
                message = channel.find(ts)
                assert message is not None, f"no message {ts}"
                previous = {k: v for k, v in message.items() if not k.startswith("_")}
                message.update({"text": escape(text), "blocks": rich_text(text),
                                "edited": {"user": message.get("user"), "ts": self.ts.next()}})
                futures = self._emit(channel, changed_event(channel, message, previous, self.ts.next()))
            self.changed()
            return Said(ts, list(await asyncio.gather(*futures)))

        return await self._on_loop(act())

    async def operator_delete(self, channel_id: str, ts: str) -> Said:
        """A person deletes a message (theirs, or as an admin any message, the session card included)."""

        async def act() -> Said:
            with self.lock:
                channel = self.channels[channel_id]
                message = channel.find(ts)
                assert message is not None, f"no message {ts}"
                futures = self._delete(channel, message)
            self.changed()
            return Said(ts, list(await asyncio.gather(*futures)))

        return await self._on_loop(act())

    async def other_bot_reply(self, channel_id: str, thread_ts: str, text: str) -> Said:
        """Another integration posts in a thread (a ``bot_message``)."""

        async def act() -> Said:
            with self.lock:
                channel = self.channels[channel_id]
                message = {"type": "message", "subtype": "bot_message", "ts": self.ts.next(), "text": escape(text),
                           "bot_id": "B0OTHERBOT", "username": "Other bot", "thread_ts": thread_ts}
                channel.messages.append(message)
                futures = self._emit(channel, message_event(message, channel))
            self.changed()
            return Said(str(message["ts"]), list(await asyncio.gather(*futures)))

        return await self._on_loop(act())

    async def deliver(self, app: FakeApp, payload: dict[str, Any]) -> Delivery:
        """Deliver a ready-made envelope (``envelope(app, event)``) the way Slack would, retries included."""
        assert self.deliverer is not None
        deliverer = self.deliverer
        return await self._on_loop(deliverer.deliver(app, payload))

    async def verify_url(self, app: FakeApp, url: str | None = None) -> httpx.Response:
        assert self.deliverer is not None
        deliverer = self.deliverer
        return await self._on_loop(deliverer.verify_url(app, url))

    def signed_headers(self, app: FakeApp, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
        assert self.deliverer is not None
        return self.deliverer.signed_headers(app, body, timestamp=timestamp)

    # --- Socket Mode ------------------------------------------------------------------------

    def _socket_url(self, app: FakeApp) -> str:
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = app.app_id
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={app.app_id}"

    def _redeem_ticket(self, ticket: str) -> FakeApp | None:
        with self.lock:
            app_id = self._tickets.pop(ticket, None)  # single use, as Slack's are
            return self.apps.get(app_id) if app_id else None

    async def _link(self, ws: Any) -> None:
        assert self.deliverer is not None
        await self.deliverer.accept(ws)

    async def wait_socket(self, app: FakeApp, *, hellos: int = 1, timeout: float = 10.0) -> None:
        """Wait until the app has said hello on ``hellos`` connections in all, and one is live."""
        assert self.deliverer is not None
        deliverer = self.deliverer

        async def wait() -> None:
            async with asyncio.timeout(timeout), deliverer.sockets_changed:
                await deliverer.sockets_changed.wait_for(
                    lambda: app.hellos >= hellos and any(c.app is app and c.live for c in deliverer.sockets))

        await self._on_loop(wait())

    async def socket_disconnect(self, app: FakeApp, reason: str = "refresh_requested") -> int:
        assert self.deliverer is not None
        return await self._on_loop(self.deliverer.disconnect(app, reason))

    async def socket_drop(self, app: FakeApp) -> int:
        assert self.deliverer is not None
        return await self._on_loop(self.deliverer.drop(app))
