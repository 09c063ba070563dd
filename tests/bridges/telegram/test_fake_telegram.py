"""The fake Telegram Bot API speaks the documented protocol (so our tests mean something)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pocketping_testkit.fakes.telegram import FakeTelegram


@pytest.fixture
def bot(fake_telegram: FakeTelegram) -> tuple[FakeTelegram, str, int]:
    token = fake_telegram.add_bot()
    return fake_telegram, token, fake_telegram.add_forum(token)


async def test_form_encoded_json_and_query_parameters(bot):
    fake, token, chat = bot
    base = f"{fake.url}/bot{token}"
    async with httpx.AsyncClient() as http:
        topic = (await http.post(f"{base}/createForumTopic", data={"chat_id": str(chat), "name": "Form"})).json()
        assert topic["ok"] is True and topic["result"]["name"] == "Form"
        thread = topic["result"]["message_thread_id"]
        form = await http.post(f"{base}/sendMessage", data={
            "chat_id": str(chat), "message_thread_id": str(thread), "text": "<b>form</b> &amp; co",
            "parse_mode": "HTML", "link_preview_options": '{"is_disabled": true}'})
        assert form.json()["result"]["text"] == "form & co"
        body = await http.post(f"{base}/sendMessage", json={"chat_id": chat, "message_thread_id": thread,
                                                            "text": "json"})
        assert body.json()["result"]["message_thread_id"] == thread
        query = await http.get(f"{base}/getChat", params={"chat_id": str(chat)})
        assert query.json()["result"]["is_forum"] is True


async def test_errors_follow_the_documented_shape(bot):
    fake, token, chat = bot
    async with httpx.AsyncClient() as http:
        bad = await http.post(f"{fake.url}/bot123:nope/getMe")
        assert bad.status_code == 401 and bad.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        assert (await http.post(f"{fake.url}/bot{token}/noSuchMethod")).json()["error_code"] == 404
        fake.fail_next(token, "sendMessage", 429, retry_after=7)
        limited = await http.post(f"{fake.url}/bot{token}/sendMessage", json={"chat_id": chat, "text": "x"})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
        assert limited.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                                  "parameters": {"retry_after": 7}}
        html = await http.post(f"{fake.url}/bot{token}/sendMessage",
                               json={"chat_id": chat, "text": "a < b", "parse_mode": "HTML"})
        assert html.status_code == 400 and "can't parse entities" in html.json()["description"]
        gone = await http.post(f"{fake.url}/bot{token}/sendMessage",
                               json={"chat_id": chat, "text": "x", "message_thread_id": 99999})
        assert gone.json()["description"] == "Bad Request: message thread not found"
        fake.set_outage(token, True)
        down = await http.post(f"{fake.url}/bot{token}/getMe")
        assert down.status_code == 502 and "text/html" in down.headers["content-type"]
        fake.set_outage(token, False)


async def test_long_polling_conflicts_and_webhooks(bot):
    fake, token, chat = bot
    base = f"{fake.url}/bot{token}"
    async with httpx.AsyncClient(timeout=10) as http:
        first = asyncio.ensure_future(http.post(f"{base}/getUpdates", json={"timeout": 5}))
        await fake.wait_for(lambda: len(fake.calls(token, "getUpdates")) == 1)
        second = asyncio.ensure_future(http.post(f"{base}/getUpdates", json={"timeout": 5}))
        lost = (await first).json()
        assert lost["error_code"] == 409 and "terminated by other getUpdates request" in lost["description"]
        fake.operator_says(chat, None, "hello bot")
        updates = (await second).json()["result"]
        assert updates[-1]["message"]["text"] == "hello bot"
        offset = updates[-1]["update_id"] + 1
        assert (await http.post(f"{base}/getUpdates", json={"offset": offset})).json()["result"] == []
        assert (await http.post(f"{base}/setWebhook", json={"url": "http://example.com/hook"})).json()[
            "description"].startswith("Bad Request: bad webhook")
        assert (await http.post(f"{base}/setWebhook", json={"url": "https://example.com/hook",
                                                            "secret_token": "s3cr3t_-"})).json()["result"] is True
        busy = (await http.post(f"{base}/getUpdates")).json()
        assert busy["error_code"] == 409 and "webhook is active" in busy["description"]
        assert (await http.post(f"{base}/deleteWebhook")).json()["result"] is True


async def test_our_client_turns_timeouts_5xx_and_429_into_retryable_errors(bot):
    from pocketping.bridges.telegram.api import TelegramApi, TelegramError
    from pocketping.errors import DeliveryError

    fake, token, chat = bot
    api = TelegramApi(fake.url, token, timeout=0.5)
    try:
        fake.hang_next(token, "sendMessage")
        with pytest.raises(DeliveryError, match="did not answer sendMessage in time") as hung:
            await api.call("sendMessage", {"chat_id": chat, "text": "x"})
        assert not hung.value.permanent
        fake.fail_next(token, "sendMessage", 500)
        with pytest.raises(TelegramError) as failed:
            await api.call("sendMessage", {"chat_id": chat, "text": "x"})
        assert failed.value.error_code == 500 and not failed.value.permanent
        fake.fail_next(token, "sendMessage", 429, retry_after=12)
        with pytest.raises(TelegramError) as limited:
            await api.call("sendMessage", {"chat_id": chat, "text": "x"})
        assert limited.value.retry_after == 12 and not limited.value.permanent
        fake.set_outage(token, True)
        with pytest.raises(DeliveryError, match="HTTP 502"):
            await api.call("getMe")
        fake.set_outage(token, False)
        with pytest.raises(TelegramError) as gone:
            await api.call("sendMessage", {"chat_id": chat, "text": "x", "message_thread_id": 4242})
        assert gone.value.thread_gone
        assert (await api.call("sendMessage", {"chat_id": chat, "text": "fine"}))["text"] == "fine"
        assert token not in str(hung.value) + str(failed.value)
    finally:
        await api.close()


async def test_delete_message_follows_the_48_hours_and_the_right(fake_telegram: FakeTelegram):
    from pocketping.clock import FakeClock

    clock = FakeClock()
    token = fake_telegram.add_bot()
    fake_telegram.set_clock(token, clock)
    chat = fake_telegram.add_forum(token)
    quiet = fake_telegram.add_forum(token, can_delete_messages=False)
    base = f"{fake_telegram.url}/bot{token}"
    async with httpx.AsyncClient() as http:
        async def send(chat_id: int) -> int:
            r = await http.post(f"{base}/sendMessage", json={"chat_id": chat_id, "text": "x"})
            return int(r.json()["result"]["message_id"])

        async def delete(chat_id: int, message_id: int) -> dict:
            body = {"chat_id": chat_id, "message_id": message_id}
            return (await http.post(f"{base}/deleteMessage", json=body)).json()

        fresh, old = await send(chat), await send(chat)
        assert await delete(chat, fresh) == {"ok": True, "result": True}
        assert (await delete(chat, fresh))["description"] == "Bad Request: message to delete not found"
        clock.advance(48 * 3600)
        assert await delete(chat, old) == {"ok": False, "error_code": 400,
                                           "description": "Bad Request: message can't be deleted"}
        # Someone else's message: only with the right to delete messages.
        theirs = fake_telegram.operator_says(chat, None, "a person")
        assert (await delete(chat, theirs))["ok"] is True
        theirs = fake_telegram.operator_says(quiet, None, "a person")
        assert (await delete(quiet, theirs))["description"] == "Bad Request: message can't be deleted"
        assert (await delete(quiet, await send(quiet)))["ok"] is True  # its own, still
        fake_telegram.fail_next(token, "deleteMessage", 400, description="Bad Request: message can't be deleted")
        assert (await delete(quiet, await send(quiet)))["ok"] is False
