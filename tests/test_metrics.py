"""``GET /metrics``: off by default, a bearer token or loopback only, and every listed series
moved by real traffic (a widget message through the fake Telegram, a reply back, a webhook that
fails, an AI answer from the fake model)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import create_project_on
from pocketping.actions.operators import add_operator
from pocketping.actions.webhooks import add_webhook
from pocketping.clock import FakeClock
from pocketping_testkit.bridges import connect_telegram
from pocketping_testkit.fakes.llm import FakeLLM
from pocketping_testkit.fakes.telegram import FakeTelegram
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.server import ServerThread
from pocketping_testkit.waiting import eventually
from pocketping_testkit.widget_client import WidgetClient

TOKEN = "metrics-token-" + "x" * 24
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(srv: ServerThread, token: str | None = TOKEN, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=20) as client:
        return await client.get("/metrics", headers=headers)


async def samples(srv: ServerThread) -> Samples:
    res = await scrape(srv)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: Samples = {}
    for family in text_string_to_metric_families(res.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def test_metrics_are_off_unless_turned_on(server, api):
    res = await api.get("/metrics")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "metrics_off"


async def test_every_served_series_is_documented_and_every_documented_one_served(make_server):
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "deployment.md").read_text()
    monitoring = docs.split("## Monitoring", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `(pocketping_\w+)", monitoring, re.M))
    used = set(re.findall(r"\b(pocketping_\w+)", monitoring))  # in the table, the scrape config, the rules
    res = await scrape(make_server(metrics_token=TOKEN))
    served = {f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(res.text)}
    assert table == served
    assert used <= served | {"pocketping"}, used - served


def test_a_short_metrics_token_is_refused_and_an_empty_one_is_unset():
    from pydantic import ValidationError

    from pocketping.config import Settings

    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(metrics_token="short")
    assert Settings(metrics_token="").metrics_token is None


async def test_a_token_is_required_from_anywhere_and_on_means_loopback_only(make_server):
    with_token = make_server(metrics_token=TOKEN)
    assert (await scrape(with_token, None)).json()["error"]["code"] == "invalid_metrics_token"
    wrong = await scrape(with_token, "not-the-token")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_metrics_token"
    assert (await scrape(with_token, TOKEN, **{"X-Forwarded-For": "203.0.113.7"})).status_code == 200

    loopback = make_server(metrics="on")
    assert (await scrape(loopback, None)).status_code == 200
    # Through a reverse proxy on the same host, the client is the one it names: not loopback.
    refused = await scrape(loopback, None, **{"X-Forwarded-For": "203.0.113.7"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_loopback_only"


async def test_a_conversation_through_telegram_moves_every_series(make_server, fresh_db,
                                                                  fake_telegram: FakeTelegram):
    srv = make_server(fresh_db.url, metrics_token=TOKEN, telegram_api_url=fake_telegram.url)
    project = create_project_on(srv)
    telegram = connect_telegram(fake_telegram, srv, project.id)
    # An endpoint nobody listens on: its deliveries fail and wait in the outbox for a retry.
    srv.call(add_webhook(srv.services, project.id, "http://127.0.0.1:9/hook"))
    before = await samples(srv)
    for name in ("pocketping_widget_connections", "pocketping_inbox_connections", "pocketping_db_pool_in_use",
                 "pocketping_ack_latency_seconds_count"):
        assert (name, ()) in before, name
    assert value(before, "pocketping_outbox_pending", target="bridge") == 0
    assert value(before, "pocketping_outbox_oldest_pending_age_seconds", target="webhook") == 0

    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Hello from the widget")
    await telegram.wait_post("Hello from the widget")
    telegram.fake.operator_says(telegram.chat_id, telegram.topic().id, "Hi! How can I help?")
    await w.expect("message", sender="operator")

    async def moved() -> Samples | None:
        found = await samples(srv)
        delivered = found.get(("pocketping_deliveries_total", (("outcome", "delivered"), ("platform", "telegram"))))
        failed = found.get(("pocketping_webhook_failures_total", (("reason", "unreachable"),)))
        return found if delivered and failed else None

    found: Samples = await eventually(moved)
    assert value(found, "pocketping_widget_connections") == 1
    assert value(found, "pocketping_messages_stored_total", sender="visitor") == 1
    assert value(found, "pocketping_messages_stored_total", sender="operator") == 1
    assert value(found, "pocketping_ack_latency_seconds_count") == 1
    assert 0 < value(found, "pocketping_ack_latency_seconds_sum") < 5
    assert value(found, "pocketping_deliveries_total", platform="webhook", outcome="retried") >= 1
    assert value(found, "pocketping_outbox_pending", target="webhook") >= 1
    assert value(found, "pocketping_outbox_oldest_pending_age_seconds", target="webhook") > 0
    assert value(found, "pocketping_db_pool_in_use") >= 0

    _, password = srv.call(add_operator(srv.services, "ana@example.com", project_ids=[project.id]))
    async with InboxClient(srv.base_url) as inbox:
        await inbox.login("ana@example.com", password or "")
        sock = await inbox.socket()
        assert value(await samples(srv), "pocketping_inbox_connections") == 1
        await sock.ws.close()

    await w.close()
    await eventually(lambda: _closed(srv))


async def _closed(srv: ServerThread) -> bool:
    found = await samples(srv)
    return value(found, "pocketping_widget_connections") == 0 and value(found, "pocketping_inbox_connections") == 0


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


async def test_ai_answers_are_counted_with_their_latency(make_server: Callable[..., ServerThread], llm: FakeLLM):
    from pocketping.actions.ai import update_ai_settings

    clock = FakeClock(datetime(2031, 5, 1, tzinfo=UTC))
    srv = make_server(metrics_token=TOKEN, clock=clock)
    project = create_project_on(srv)
    changes: dict[str, Any] = {"enabled": True, "provider": "openai", "model": "gpt-test",
                               "base_url": llm.openai_url, "delay_seconds": 10}
    srv.call(update_ai_settings(srv.services, project.id, changes, api_key=llm.openai_key))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.say("Is anyone there?")
    clock.advance(10)
    await w.expect("message", sender="ai")
    await srv.acall(srv.node.ai.settled())
    found = await samples(srv)
    assert value(found, "pocketping_ai_answers_total", outcome="answered") == 1
    assert value(found, "pocketping_ai_answer_seconds_count", outcome="answered") == 1
    assert value(found, "pocketping_messages_stored_total", sender="ai") == 1
    await w.close()
