"""Pure pieces of the bridge framework: splitting, pacing, commands, event lines, configs."""

from __future__ import annotations

import asyncio

import pytest

from pocketping.bridges.base import Outgoing
from pocketping.bridges.pacing import Limit, Pacer, PacingBusy
from pocketping.bridges.platforms import check_config
from pocketping.bridges.telegram import format as tg_format
from pocketping.bridges.text import split_text, utf16_len
from pocketping.clock import FakeClock
from pocketping.core.bridge_config import public_view
from pocketping.errors import InvalidInput
from pocketping.relay import commands
from pocketping.relay.sink import reply_client_id
from pocketping.relay.team_copy import event_line, operator_author
from pocketping_testkit.fakes.telegram_http import html_to_text


def test_split_text_prefers_natural_breaks_and_keeps_everything():
    text = "First paragraph.\n\n" + "word " * 50 + "\nlast line"
    pieces = split_text(text, 60)
    assert all(len(p) <= 60 for p in pieces)
    assert pieces[0] == "First paragraph."
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
    assert split_text("short", 60) == ["short"]
    assert split_text("x" * 130, 60) == ["x" * 60, "x" * 60, "x" * 10]  # no break to prefer


def test_split_counts_utf16_for_telegram_and_never_cuts_an_emoji():
    assert utf16_len("a😀") == 3
    pieces = split_text("😀" * 5000, 4096, utf16_len)
    assert all(utf16_len(p) <= 4096 for p in pieces) and "".join(pieces) == "😀" * 5000
    from datetime import UTC, datetime

    from pocketping.core.models import Message

    message = Message(id="m", session_id="s", seq=1, kind="message", sender="visitor", source="widget",
                      text="", created_at=datetime.now(UTC))
    item = Outgoing(message=message, author="Visitor 4f2a9c", text="😀 " * 3000, kind="visitor")
    parts = tg_format.split(item)
    assert len(parts) == 3
    for part in parts:
        shown = html_to_text(tg_format.message_html(part))  # the fake checks HTML like Telegram
        assert utf16_len(shown) <= 4096


def test_telegram_html_is_escaped_and_valid():
    from datetime import UTC, datetime

    from pocketping.core.models import Message

    message = Message(id="m", session_id="s", seq=1, kind="message", sender="visitor", source="widget",
                      text="", created_at=datetime.now(UTC))
    for kind in ("visitor", "operator", "ai", "notice", "event"):
        item = Outgoing(message=message, author="<Ana & Co>", text="<script>alert(1)</script> & &amp; >",
                        kind=kind)  # type: ignore[arg-type]
        shown = html_to_text(tg_format.message_html(item))
        assert "<script>alert(1)</script> & &amp; >" in shown


async def test_pacer_bursts_then_keeps_the_rate_and_the_window():
    clock = FakeClock()
    pacer = Pacer(clock)
    limit = Limit(rate=1.0, burst=3, per_window=5, window=60.0)
    for _ in range(3):
        await pacer.wait("g", limit)  # a burst goes at once
    assert pacer.delay("g", limit) == pytest.approx(1.0)
    waiter = asyncio.ensure_future(pacer.wait("g", limit))
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(1.0)
    await asyncio.wait_for(waiter, 1)
    clock.advance(1.0)
    await pacer.wait("g", limit)  # the fifth in this minute
    assert pacer.delay("g", limit) == pytest.approx(58.0)  # the sixth waits for the window
    with pytest.raises(PacingBusy) as busy:
        await pacer.wait("g", limit, max_wait=30)
    assert busy.value.retry_after == pytest.approx(58.0)
    assert pacer.delay("other", limit) == 0  # destinations are independent
    pacer.penalize("other", 30)
    assert pacer.penalized("other") and pacer.delay("other", limit) == pytest.approx(30.0)


def test_commands_are_recognised_only_when_known():
    assert commands.parse("/close") == ("close", [])
    assert commands.parse("  /CLOSE@AcmeBot ") == ("close", [])
    assert commands.parse("/ai off") == ("ai", ["off"])
    assert commands.parse("/path/to/file is broken") is None
    assert commands.parse("/close the door please") is None
    assert commands.parse("hello /close") is None


def test_event_lines_and_authors():
    assert event_line("checkout_started", {"plan": "pro", "total": 49}) == "checkout_started · plan=pro, total=49"
    assert event_line("ping", {}) == "ping"
    assert len(event_line("big", {"x": "y" * 1000})) == 300
    assert operator_author("Sarah", "telegram") == "Sarah (via Telegram)"
    assert operator_author(None, "api") == "Operator (via API)"


def test_reply_client_ids_are_valid_and_stable():
    assert reply_client_id("brg_x", "123") == "brg_x:123"
    assert reply_client_id("brg_x", "1712345678.123456", 2) == "brg_x:1712345678.123456:2"
    weird = reply_client_id("brg_x", "a/b c" * 20)
    assert weird == reply_client_id("brg_x", "a/b c" * 20) and len(weird) <= 64


def test_configs_are_checked_and_shown_without_secrets():
    token = "123456789:" + "A" * 35
    config = check_config("telegram", {"bot_token": token, "chat_id": "-1001234567890"})
    assert config["chat_id"] == -1001234567890 and len(config["webhook_secret"]) >= 32
    view = public_view("telegram", config)
    assert view == {"botTokenHint": "...AAAA", "chatId": -1001234567890}
    updated = check_config("telegram", {"chat_id": "-1009"}, config)
    assert updated["bot_token"] == token and updated["webhook_secret"] == config["webhook_secret"]
    with pytest.raises(InvalidInput):
        check_config("slack", {"bot_token": "xoxb-1", "channel_id": "C0123456", "app_token": "nope"})
