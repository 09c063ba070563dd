"""The pre-chat form: with `required` no session exists before it is filled with a valid email;
its answers go into the session's identity and the team's thread card."""

from __future__ import annotations

import asyncio

import orjson
import websockets

from pocketping.actions.projects import update_project
from pocketping_testkit.bridges import telegram_bridge
from pocketping_testkit.widget_client import WidgetClient


async def _recv(ws) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_required_prechat_blocks_the_chat_until_valid(server, project, api, fake_telegram):
    server.call(update_project(server.services, project.id, settings={"prechat": "required"}))
    # The bridge is removed afterwards: the shared database is also other tests' (test_restart's key).
    with telegram_bridge(server, project, fake_telegram) as telegram:
        await _required_form(server, project, api, telegram)


async def _required_form(server, project, api, telegram) -> None:
    async with websockets.connect(server.ws_url, compression=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "publicKey": project.public_key,
                                    "metadata": {"language": "fr-FR", "url": "https://shop.example/"}}).decode())
        form = await _recv(ws)
        assert form["type"] == "prechat" and form["mode"] == "required"
        assert (form["name"], form["start"]) == ("Nom", "Démarrer le chat")
        assert "primaryColor" in form["settings"]
        listed = (await api.get("/api/v1/sessions", headers=project.auth)).json()["sessions"]
        assert listed == []  # no session before the form is filled
        await ws.send(orjson.dumps({"type": "message", "text": "hi"}).decode())
        assert (await _recv(ws))["code"] == "prechat_required"
        await ws.send(orjson.dumps({"type": "prechat", "name": "Ana", "email": "not an email",
                                    "text": "Hello"}).decode())
        assert (await _recv(ws))["code"] == "invalid_email"
        await ws.send(orjson.dumps({"type": "prechat", "name": "Ana", "email": "", "text": "Hello"}).decode())
        assert (await _recv(ws))["code"] == "invalid_email"
        assert (await api.get("/api/v1/sessions", headers=project.auth)).json()["sessions"] == []
        await ws.send(orjson.dumps({"type": "prechat", "name": "Ana Lima", "email": "ana@example.net",
                                    "text": "Do you ship to Norway?"}).decode())
        welcome = await _recv(ws)
        assert welcome["type"] == "welcome"
        assert welcome["identity"]["name"] == "Ana Lima" and welcome["identity"]["email"] == "ana@example.net"
        assert welcome["prechat"]["mode"] == "required"
        first = await _recv(ws)
        assert first["type"] == "message" and first["message"]["text"] == "Do you ship to Norway?"
    card = await telegram.wait_post("Ana Lima")
    assert "ana@example.net" in card.text
    await telegram.wait_post("Do you ship to Norway?")
    # Coming back with the stored token needs no form.
    w = await WidgetClient.connect(server.ws_url, project.public_key, token=welcome["token"])
    assert w.session_id == welcome["sessionId"]
    await w.close()


async def test_optional_prechat_is_offered_and_may_leave_the_email_out(server, project, api):
    server.call(update_project(server.services, project.id, settings={"prechat": "optional"}))
    w = await WidgetClient.connect(server.ws_url, project.public_key)  # the session exists at once
    assert w.welcome["prechat"] == {"mode": "optional", "name": "Name", "start": "Start chat"}
    await w.synced()
    await w.send({"type": "prechat", "name": "Bo", "email": "", "text": "Just looking"})
    assert (await w.expect("contact"))["email"] is None
    await w.expect("message", text="Just looking")
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    assert session["identity"]["name"] == "Bo" and session["identity"]["email"] is None
    await w.close()


async def test_without_prechat_the_welcome_says_so(server, project):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    assert w.welcome["prechat"] is None
    await w.close()
