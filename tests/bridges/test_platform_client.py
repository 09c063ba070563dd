"""The platform API clients keep no cookies: nothing an answer sets is sent back."""

from __future__ import annotations

import httpx
import pytest

from pocketping.bridges.deps import DEFAULT_HTTP, HttpClients


async def test_a_cookie_a_platform_sets_is_never_sent_back():
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={"ok": True}, headers={"set-cookie": "__cfruid=abc; Path=/"})

    client = HttpClients(transport=httpx.MockTransport(answer))(timeout=5.0, base_url="https://api.example.com")
    async with client:
        for _ in range(3):
            assert (await client.post("/send", json={"text": "hi"})).json() == {"ok": True}
        assert len(client.cookies) == 0
        with pytest.raises(TypeError):
            client.cookies = {"a": "b"}
    assert seen == [None, None, None]
    # A plain httpx client would have sent it back: the difference is ours.
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://api.example.com") as plain:
        await plain.post("/send")
        await plain.post("/send")
    assert seen[-1] == "__cfruid=abc"
    assert DEFAULT_HTTP.transport is None
