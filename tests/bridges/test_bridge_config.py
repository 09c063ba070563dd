"""A bridge's configuration errors name the JSON field at fault for REST callers (the CLI says
its flags instead: tests/bridges/test_bridge_cli.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CASES = [
    ("telegram", {"botToken": "nope", "chatId": -1001}, "botToken"),
    ("telegram", {"botToken": "123456:" + "A" * 30}, "chatId"),
    ("discord", {"channelId": "123456789012345678"}, "botToken"),
    ("discord", {"botToken": "abc", "channelId": "general"}, "channelId"),
    ("slack", {"botToken": "xoxp-1", "channelId": "C0123456", "signingSecret": "s"}, "botToken"),
    ("slack", {"botToken": "xoxb-1", "channelId": "#support", "signingSecret": "s"}, "channelId"),
    ("slack", {"botToken": "xoxb-1", "channelId": "C0123456"}, "signingSecret"),
    ("slack", {"botToken": "xoxb-1", "channelId": "C0123456", "appToken": "nope"}, "appToken"),
]


@pytest.mark.parametrize(("type_", "body", "field"), CASES)
async def test_rest_errors_name_the_json_field(api: httpx.AsyncClient, project: Any, type_: str,
                                               body: dict[str, Any], field: str) -> None:
    r = await api.post("/api/v1/bridges", headers=project.auth, json={"type": type_, **body})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_bridge_config" and error["field"] == field
    assert error["message"].startswith(field) and "--" not in error["message"]
    assert (await api.get("/api/v1/bridges", headers=project.auth)).json()["bridges"] == []
