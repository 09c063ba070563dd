"""The inbox behind the same path as the chat apps: an inbox reply is an ordinary operator
message mirrored to every bridge, and what happens in a chat app shows up in the inbox
(real server, the fake Telegram Bot API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pocketping_testkit.bridges import TelegramSetup, telegram_bridge
from pocketping_testkit.inbox_client import InboxClient

from .helpers import make_operator, visitor


@pytest.fixture
def telegram(server, project, fake_telegram) -> Iterator[TelegramSetup]:
    with telegram_bridge(server, project, fake_telegram) as setup:
        yield setup


async def test_inbox_and_telegram_see_each_others_replies(server, project, telegram: TelegramSetup):
    op = await make_operator(server, project.id, name="Sarah")
    widget = await visitor(server, project.public_key, "Hello, anyone?")
    await telegram.wait_post("Hello, anyone?")
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        sock = await client.socket()

        # An inbox reply reaches the widget and is mirrored to Telegram, said to come from the inbox.
        assert (await client.reply(widget.session_id, "Hi from the inbox")).status_code == 201
        assert (await widget.expect("message", sender="operator"))["message"]["text"] == "Hi from the inbox"
        post = await telegram.wait_post("Hi from the inbox")
        assert post.text == "Sarah (via Inbox): Hi from the inbox"
        assert post.thread_id == telegram.topic().id

        # A reply in the Telegram topic shows up live in the inbox, and in the widget.
        telegram.fake.operator_says(telegram.chat_id, telegram.topic().id, "And hello from Telegram")
        frame = await sock.expect("message", source="telegram")
        assert frame["message"]["text"] == "And hello from Telegram"
        assert frame["message"]["operatorName"] == "Sarah Lee"
        assert frame["session"]["id"] == widget.session_id
        await widget.expect("message", source="telegram")

        # Closing from the inbox closes the topic too.
        await client.post(f"/conversations/{widget.session_id}/close")
        await telegram.fake.wait_for(lambda: telegram.topic().closed, 20)
        await sock.close()
    await widget.close()
