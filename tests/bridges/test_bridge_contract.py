"""The bridge contract: what every platform's bridge does, checked the same way against each
platform's fake.

The bridge alone (``create(record, deps)`` with deps made for the test, a recording sink):
open a thread, post, split a long text, close and reopen, ``retry_after`` honoured, an
operator's reply reaches the sink, our own posts coming back are ignored. Through the real
server and outbox (every database backend): a deleted thread is recreated and the session
remapped to it, both ways.

A new platform is one more ``Platform`` subclass in ``PLATFORMS`` (its fake, and where the
fake shows what the bridge did) plus its line in ``bridges.platforms``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pocketping.bridges.base import Bridge, Outgoing, SessionCard, SplitsText
from pocketping.bridges.deps import BridgeDeps
from pocketping.bridges.platforms import PLATFORMS, check_config
from pocketping.bridges.text import utf16_len
from pocketping.core.models import Message, Session
from pocketping.errors import DeliveryError
from pocketping_testkit.bridge_kit import RecordingSink, bridge_record, make_deps
from pocketping_testkit.bridges import discord_bridge, telegram_bridge
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeApp, FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.server import ServerThread
from pocketping_testkit.slack_bridge import slack_bridge
from pocketping_testkit.widget_client import WidgetClient

NOW = datetime.now(UTC)
LONG = " ".join(f"word{i}" for i in range(2500))  # about 22,000 characters: several messages on every platform
WORD = re.compile(r"word\d+")


class Platform:
    """One platform's fake, as the contract looks at it. Bound to one destination (a bot and a
    forum, a channel, an app and a channel): ``new_destination`` makes one for a lone bridge,
    ``connected`` connects one to a project of a running server."""

    type: str
    limit: int  # the longest message the platform takes, as ``measure`` counts

    @staticmethod
    def measure(text: str) -> int:
        return len(text)

    def settings(self) -> dict[str, Any]:
        """``BridgeSettings`` fields that point a bridge at the fake."""
        raise NotImplementedError

    def new_destination(self) -> dict[str, Any]:
        """Options for ``check_config``, as ``POST /api/v1/bridges`` takes them (snake case)."""
        raise NotImplementedError

    def connected(self, server: ServerThread, project: Any) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def posts(self, thread: str) -> list[str]:
        """What our bot shows in the thread, oldest first (the card, where it is in the thread, first)."""
        raise NotImplementedError

    def card(self, thread: str) -> str:
        """What the thread's session card says."""
        return self.posts(thread)[0]

    def closed(self, thread: str) -> bool:
        raise NotImplementedError

    async def operator_says(self, thread: str, text: str) -> None:
        raise NotImplementedError

    async def our_post_came_back(self, thread: str, text: str) -> None:
        """The platform hands our bot's own post back to it (where it does), and that was delivered."""

    def fail_next_post(self, thread: str, retry_after: float) -> None:
        """The next post into ``thread`` is answered 429 with ``retry_after``."""
        raise NotImplementedError

    def post_calls(self, thread: str) -> int:
        """How many posts into ``thread`` reached the platform (answered or not)."""
        raise NotImplementedError

    async def delete(self, thread: str) -> None:
        raise NotImplementedError

    async def thread_with(self, text: str) -> str:
        """The thread our bot posted ``text`` in (waits for it)."""
        raise NotImplementedError


class Telegram(Platform):
    type, limit = "telegram", 4096
    measure = staticmethod(utf16_len)

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.token, self.chat = "", 0

    def settings(self) -> dict[str, Any]:
        return {"telegram_api_url": self.fake.url}

    def new_destination(self) -> dict[str, Any]:
        self.token = self.fake.add_bot()
        self.chat = self.fake.add_forum(self.token)
        return {"bot_token": self.token, "chat_id": str(self.chat)}

    @contextlib.contextmanager
    def connected(self, server: ServerThread, project: Any) -> Iterator[None]:
        with telegram_bridge(server, project, self.fake) as setup:
            self.token, self.chat = setup.token, setup.chat_id
            yield

    def posts(self, thread: str) -> list[str]:
        return [m.text for m in self.fake.posts(self.chat, int(thread))]

    def closed(self, thread: str) -> bool:
        return next(t for t in self.fake.topics(self.chat) if t.id == int(thread)).closed

    async def operator_says(self, thread: str, text: str) -> None:
        self.fake.operator_says(self.chat, int(thread), text)

    async def our_post_came_back(self, thread: str, text: str) -> None:
        # Telegram never shows a bot its own messages; were it to, this is what would come.
        bot = self.fake.bots[self.token].user
        self.fake.inject_update(self.token, {"message": {
            "message_id": 900_000, "from": bot, "chat": {"id": self.chat, "type": "supergroup", "is_forum": True},
            "date": 1, "message_thread_id": int(thread), "is_topic_message": True, "text": text}})

    def fail_next_post(self, thread: str, retry_after: float) -> None:
        self.fake.fail_next(self.token, "sendMessage", 429, retry_after=int(retry_after))

    def post_calls(self, thread: str) -> int:
        return sum(1 for c in self.fake.calls(self.token, "sendMessage") if c.get("message_thread_id") == int(thread))

    async def delete(self, thread: str) -> None:
        self.fake.delete_topic(self.chat, int(thread))

    async def thread_with(self, text: str) -> str:
        def find() -> str | None:
            return next((str(m.thread_id) for m in self.fake.posts(self.chat) if text in m.text), None)

        await self.fake.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found


class Discord(Platform):
    type, limit = "discord", 2000
    measure = staticmethod(utf16_len)

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.channel = ""

    def settings(self) -> dict[str, Any]:
        return {"discord_api_url": self.fake.api_url}

    def new_destination(self) -> dict[str, Any]:
        self.channel = self.fake.add_channel("contract")
        return {"bot_token": self.fake.token, "channel_id": self.channel}

    @contextlib.contextmanager
    def connected(self, server: ServerThread, project: Any) -> Iterator[None]:
        with discord_bridge(server, project, self.fake) as setup:
            self.channel = setup.channel_id
            yield

    def posts(self, thread: str) -> list[str]:
        return self.fake.bot_messages(thread)

    def closed(self, thread: str) -> bool:
        return bool(self.fake.thread(thread)["thread_metadata"]["archived"])

    async def operator_says(self, thread: str, text: str) -> None:
        self.fake.post_as_user(thread, text)

    # Our own posts come back over the Gateway by themselves, before anything said after them.

    def fail_next_post(self, thread: str, retry_after: float) -> None:
        self.fake.fail_next(429, method="POST", path=f"/channels/{thread}/messages$", retry_after=retry_after)

    def post_calls(self, thread: str) -> int:
        return len(self.fake.calls("POST", f"/channels/{thread}/messages$"))

    async def delete(self, thread: str) -> None:
        self.fake.delete_thread(thread)

    async def thread_with(self, text: str) -> str:
        def find() -> str | None:
            return next((t["id"] for t in self.fake.threads(self.channel)
                         if any(text in m for m in self.fake.bot_messages(t["id"]))), None)

        return await self.fake.wait_until(find, 20, what=f"a Discord post with {text!r}")


class Slack(Platform):
    type, limit = "slack", 4000

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.app: FakeApp | None = None
        self.channel = ""

    def settings(self) -> dict[str, Any]:
        return {"slack_api_url": self.fake.api_url}

    def new_destination(self) -> dict[str, Any]:
        # Socket Mode: a bridge on its own hears replies without a server's Request URL.
        self.app = self.fake.create_app(socket_mode=True)
        self.channel = self.fake.create_channel(members=[self.app.bot_user_id]).id
        return {"bot_token": self.app.bot_token, "channel_id": self.channel, "app_token": self.app.app_token}

    @contextlib.contextmanager
    def connected(self, server: ServerThread, project: Any) -> Iterator[None]:
        with slack_bridge(server, project, self.fake) as setup:  # the Events API, at the server's Request URL
            self.app, self.channel = setup.app, setup.channel.id
            yield

    def _bot(self) -> FakeApp:
        assert self.app is not None
        return self.app

    def posts(self, thread: str) -> list[str]:
        bot = self._bot().bot_id
        return [str(m["text"]) for m in self.fake.replies(self.channel, thread) if m.get("bot_id") == bot]

    def card(self, thread: str) -> str:
        parent = next(m for m in self.fake.top_level(self.channel) if m["ts"] == thread)
        return f"{parent['text']} {parent.get('blocks')}"

    def closed(self, thread: str) -> bool:
        parent = next(m for m in self.fake.top_level(self.channel) if m["ts"] == thread)
        return str(parent["blocks"][0]["text"]["text"]).startswith("Closed · ")

    async def operator_says(self, thread: str, text: str) -> None:
        await self.fake.operator_reply(self.channel, thread, text)

    async def our_post_came_back(self, thread: str, text: str) -> None:
        await self.fake.settle()  # Slack sends apps their own posts as events: wait until it was handled

    def fail_next_post(self, thread: str, retry_after: float) -> None:
        self.fake.fail("chat.postMessage", status=429, retry_after=retry_after, app=self._bot())

    def post_calls(self, thread: str) -> int:
        calls = self.fake.calls_to("chat.postMessage", self._bot())
        return sum(1 for c in calls if c.params.get("thread_ts") == thread)

    async def delete(self, thread: str) -> None:
        # An admin deletes the replies, then the card: the thread is gone (a card deleted alone
        # leaves the thread and its replies, as in Slack).
        for reply in self.fake.replies(self.channel, thread):
            await self.fake.operator_delete(self.channel, str(reply["ts"]))
        await self.fake.operator_delete(self.channel, thread)

    async def thread_with(self, text: str) -> str:
        def find() -> str | None:
            return next((str(card["ts"]) for card in self.fake.top_level(self.channel)
                         if any(text in str(m["text"]) for m in self.fake.replies(self.channel, card["ts"]))), None)

        return await self.fake.wait_until(find, 20, what=f"a Slack reply with {text!r}")


PLATFORMS_UNDER_TEST: dict[str, Callable[[pytest.FixtureRequest], Platform]] = {
    "telegram": lambda request: Telegram(request.getfixturevalue("fake_telegram")),
    "discord": lambda request: Discord(request.getfixturevalue("fake_discord")),
    "slack": lambda request: Slack(request.getfixturevalue("fake_slack")),
}


def test_every_platform_is_under_contract() -> None:
    assert set(PLATFORMS_UNDER_TEST) == set(PLATFORMS)


@pytest.fixture(params=list(PLATFORMS_UNDER_TEST))
def platform(request: pytest.FixtureRequest) -> Platform:
    return PLATFORMS_UNDER_TEST[request.param](request)


class CountingTransport(httpx.AsyncBaseTransport):
    """The real network transport, counting what passes: the bridges' HTTP goes through the
    transport their deps carry. Shared by every client made with it, so closing one leaves it open."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def transport() -> AsyncIterator[CountingTransport]:
    counting = CountingTransport()
    yield counting
    await counting.inner.aclose()


@pytest.fixture
async def make_bridge(platform: Platform, transport: CountingTransport) -> AsyncIterator[Callable[[], Bridge]]:
    """A bridge of ``platform`` made as the relay makes it, on a destination of its own."""
    made: list[Bridge] = []

    def make() -> Bridge:
        deps: BridgeDeps = make_deps(transport=transport, **platform.settings())
        config = check_config(platform.type, platform.new_destination())
        bridge = PLATFORMS[platform.type](bridge_record(platform.type, config, bridge_id=f"brg_{platform.type}"), deps)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        await bridge.stop()


def session(session_id: str = "sess_contract") -> Session:
    return Session(id=session_id, project_id="proj_kit", visitor_id="vis_0123456789abcdef", status="active",
                   metadata={"url": "https://shop.example.com/pricing"}, identity=None, created_at=NOW,
                   last_activity=NOW, closed_at=None, first_message_at=NOW, last_seq=1, visitor_read_seq=0,
                   operator_read_seq=0, ai_enabled=False, ai_due_at=None, ai_reply_count=0)


CARD = SessionCard(session=session(), title="Visitor 0123ab · /pricing",
                   lines=(("Page", "https://shop.example.com/pricing"), ("Browser", "Firefox 133")))
_seq = iter(range(1, 1_000_000))


def item(text: str) -> Outgoing:
    seq = next(_seq)
    message = Message(id=f"msg_contract_{seq}", session_id=CARD.session.id, seq=seq, kind="message",
                      sender="visitor", source="widget", text=text, created_at=datetime.now(UTC))
    return Outgoing(message=message, author="Visitor 0123ab", text=text, kind="visitor")


async def test_a_thread_opens_with_the_card_takes_posts_and_long_texts_in_parts(
        platform: Platform, make_bridge: Callable[[], Bridge], transport: CountingTransport) -> None:
    bridge = make_bridge()
    opened = await bridge.open_thread(CARD)
    thread = opened.thread_id
    assert thread and opened.message_ids
    assert "/pricing" in platform.card(thread) and "Firefox 133" in platform.card(thread)

    posted = await bridge.post(thread, item("Is the pro plan monthly?"))
    assert len(posted.message_ids) == 1
    assert platform.posts(thread)[-1].endswith("Is the pro plan monthly?")

    before = len(platform.posts(thread))
    long = item(LONG)
    assert isinstance(bridge, SplitsText) and len(bridge.parts(long)) >= 2
    posted = await bridge.post(thread, long)
    parts = platform.posts(thread)[before:]
    assert len(parts) == len(posted.message_ids) >= 2
    assert all(platform.measure(part) <= platform.limit for part in parts)
    assert [w for part in parts for w in WORD.findall(part)] == LONG.split()  # every word once, in order
    assert transport.requests >= 2 + len(posted.message_ids)  # the deps' transport carried them


async def test_a_thread_closes_and_reopens(platform: Platform, make_bridge: Callable[[], Bridge]) -> None:
    bridge = make_bridge()
    thread = (await bridge.open_thread(CARD)).thread_id
    assert thread and not platform.closed(thread)
    await bridge.close_thread(thread)
    assert platform.closed(thread)
    await bridge.reopen_thread(thread)
    assert not platform.closed(thread)
    await bridge.post(thread, item("back again"))
    assert platform.posts(thread)[-1].endswith("back again")


async def test_retry_after_is_honoured(platform: Platform, make_bridge: Callable[[], Bridge]) -> None:
    bridge = make_bridge()
    thread = (await bridge.open_thread(CARD)).thread_id
    assert thread
    platform.fail_next_post(thread, retry_after=120)
    with pytest.raises(DeliveryError) as limited:
        await bridge.post(thread, item("too soon"))
    assert limited.value.retry_after == pytest.approx(120) and not limited.value.permanent
    tried = platform.post_calls(thread)
    # Asked again at once, the bridge does not send: it says when to come back.
    with pytest.raises(DeliveryError) as again:
        await bridge.post(thread, item("still too soon"))
    assert again.value.retry_after is not None and 100 < again.value.retry_after <= 120
    assert platform.post_calls(thread) == tried


async def test_a_reply_reaches_the_sink_and_our_own_posts_do_not(
        platform: Platform, make_bridge: Callable[[], Bridge]) -> None:
    bridge = make_bridge()
    sink = RecordingSink()
    await bridge.start(sink)
    await sink.wait_status(bridge.id, "active", timeout=20)  # listening
    thread = (await bridge.open_thread(CARD)).thread_id
    assert thread
    await bridge.post(thread, item("our own words"))
    await platform.our_post_came_back(thread, platform.posts(thread)[-1])
    await platform.operator_says(thread, "Hi, I can help")
    reply = await sink.wait_reply("Hi, I can help", timeout=20)
    assert (reply.bridge_id, reply.thread_id, reply.platform_label) == (bridge.id, thread, bridge.label)
    assert reply.operator_name and reply.external_id
    assert [r.text for r in sink.replies] == ["Hi, I can help"]  # our own post, come back, was not a reply


async def test_a_deleted_thread_is_recreated_and_remapped(server: ServerThread, project: Any,
                                                         platform: Platform) -> None:
    with platform.connected(server, project):
        w = await WidgetClient.connect(server.ws_url, project.public_key,
                                       metadata={"url": "https://shop.example.com/pricing"})
        await w.synced()
        await w.say("first question")
        first = await platform.thread_with("first question")
        await platform.delete(first)
        await w.say("are you still there?")
        second = await platform.thread_with("are you still there?")
        assert second != first
        assert "previous topic/thread was deleted" in platform.card(second)
        # Remapped both ways: the visitor's next message and the operator's answer use the new thread.
        await w.say("one more thing")
        assert await platform.thread_with("one more thing") == second
        await platform.operator_says(second, "still here")
        frame = await w.expect("message", sender="operator", timeout=20)
        assert frame["message"]["text"] == "still here"
        await w.close()
