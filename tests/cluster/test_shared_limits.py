"""With Redis, a visitor's message limit counts across nodes: half the messages on node A,
half on node B, and the one over the limit is refused wherever it arrives."""

from __future__ import annotations

from pocketping_testkit.widget_client import WidgetClient

LIMIT = 6


async def test_the_visitor_limit_counts_across_nodes(setup):
    setup.cluster.env["POCKETPING_RATE_LIMIT_MESSAGES_PER_MINUTE"] = str(LIMIT)
    a, b = setup.cluster.web(), setup.cluster.web()
    on_a = await WidgetClient.connect(a.ws_url, setup.public_key)
    await on_a.synced()
    on_b = await WidgetClient.connect(b.ws_url, setup.public_key, token=on_a.token)
    await on_b.synced()
    assert on_b.session_id == on_a.session_id
    for i in range(LIMIT // 2):
        await on_a.say(f"a{i}")
        await on_b.say(f"b{i}")
    for client in (on_a, on_b):
        await client.send({"type": "message", "text": "one too many", "clientId": "over"})
        refused = await client.expect("error", clientId="over")
        assert refused["code"] == "rate_limited" and refused["retryAfter"] > 0
    await on_a.close()
    await on_b.close()
