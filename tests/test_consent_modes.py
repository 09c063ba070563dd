"""Consent before collection (issue 20, item 5): ``--consent off|notice|required``. With
``required`` nothing is collected before the visitor accepts: the raw database holds no metadata,
address or country, emails are refused; after ``consent`` the metadata is stored and chat works."""

from __future__ import annotations

import orjson
import pytest
import websockets
from sqlalchemy import text

from pocketping.actions.projects import update_project
from pocketping.errors import InvalidInput
from pocketping.store.engine import create_engine
from pocketping_testkit.widget_client import WidgetClient

META = {"url": "https://shop.example/pricing", "title": "Pricing", "referrer": "https://search.example/",
        "language": "fr-FR", "timezone": "Europe/Paris", "screen": "1440x900"}
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
TEXT = "We store this chat and the page you are on. Privacy: https://shop.example/privacy"


async def _raw_session(server, database, session_id: str) -> dict:
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT meta, ip, country, identity, consent, consent_at FROM sessions "
                                           "WHERE id = :id"), {"id": session_id})).mappings().one()
    finally:
        await engine.dispose()
    keyring = server.services.db.keyring
    return {**row, "meta": orjson.loads(keyring.decrypt(row["meta"]))}


async def test_required_consent_collects_nothing_before_the_visitor_accepts(server, project, api, database):
    server.call(update_project(server.services, project.id, settings={
        "consent": "required", "consent_text": TEXT, "store_ip": True, "collect_country": True}))
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=META, user_agent=AGENT,
                                   headers={"x-country-code": "FR"})
    settings = w.welcome["settings"]
    assert settings["consent"] == "required" and settings["consentText"] == TEXT
    assert settings["consentButton"] == "Accept" and w.welcome["consent"] is None
    await w.synced()
    # The widget sent metadata anyway (an old or a forged one): none of it is stored.
    raw = await _raw_session(server, database, w.session_id)
    assert raw["meta"] == {} and raw["ip"] is None and raw["country"] is None and raw["consent"] is None
    await w.send({"type": "metadata", "metadata": META})
    assert (await w.expect("error"))["code"] == "consent_required"
    await w.send({"type": "contact", "email": "early@example.net"})
    assert (await w.expect("error"))["code"] == "consent_required"
    await w.send({"type": "identify", "id": "u1", "email": "early@example.net"})
    assert (await w.expect("error"))["code"] == "consent_required"
    raw = await _raw_session(server, database, w.session_id)
    assert raw["meta"] == {} and raw["identity"] is None

    await w.send({"type": "consent", "accepted": "yes"})
    assert (await w.expect("error"))["code"] == "invalid_consent"
    await w.send({"type": "consent", "accepted": True})
    assert (await w.expect("consent"))["accepted"] is True
    await w.send({"type": "metadata", "metadata": META})
    await w.say("Now I can ask my question")  # chat works (and the metadata frame went before it)
    raw = await _raw_session(server, database, w.session_id)
    assert {k: raw["meta"][k] for k in META} == META and raw["meta"]["browser"].startswith("Chrome")
    assert raw["ip"] is not None and raw["country"] is not None and raw["consent"] == "accepted"
    await w.send({"type": "contact", "email": "later@example.net"})
    await w.expect("contact")
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    assert session["metadata"]["country"] == "FR" and session["metadata"]["url"] == META["url"]
    export_url = f"/api/v1/visitors/{session['visitorId']}/export"
    accepted_at = (await api.get(export_url, headers=project.auth)).json()["sessions"][0]["privacyConsent"]["at"]
    await w.close()

    # The next page view's hello carries the metadata, and it is kept; the choice and its time are exported.
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=w.token,
                                       metadata={**META, "url": "https://shop.example/cart"})
    assert again.welcome["consent"] == "accepted"
    await again.synced()
    await again.send({"type": "consent", "accepted": True})  # repeated: the first time stays
    await again.expect("consent")
    [item] = (await api.get(export_url, headers=project.auth)).json()["sessions"]
    assert item["privacyConsent"] == {"choice": "accepted", "at": accepted_at}
    assert item["session"]["metadata"]["url"] == "https://shop.example/cart"
    await again.close()
    assert (await api.get("/api/v1/project", headers=project.auth)).json()["consent"] == "required"


async def test_a_declined_or_pending_consent_keeps_the_prechat_email_out(server, project, database):
    server.call(update_project(server.services, project.id, settings={"consent": "required", "prechat": "optional"}))
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=META)
    # Without a consent text of its own the project gets the default one, in the visitor's language.
    assert w.welcome["settings"]["consentText"].startswith("This chat stores")
    await w.synced()
    await w.send({"type": "prechat", "name": "Bo", "email": "bo@example.net", "text": "Hi"})
    assert (await w.expect("error"))["code"] == "consent_required"
    await w.send({"type": "consent", "accepted": False})
    assert (await w.expect("consent"))["accepted"] is False
    raw = await _raw_session(server, database, w.session_id)
    assert raw["consent"] == "declined" and raw["meta"] == {} and raw["identity"] is None
    # Chat without an email still works.
    await w.say("Just a question, no email")
    await w.close()


async def test_notice_is_the_default_and_off_shows_nothing(server, project, make_project, database):
    w = await WidgetClient.connect(server.ws_url, project.public_key, metadata=META)
    assert w.welcome["settings"]["consent"] == "notice" and "consentButton" not in w.welcome["settings"]
    await w.synced()
    assert (await _raw_session(server, database, w.session_id))["meta"]["url"] == META["url"]
    await w.close()
    server.call(update_project(server.services, project.id, settings={"consent_text": TEXT}))
    notice = await WidgetClient.connect(server.ws_url, project.public_key)
    assert notice.welcome["settings"]["consentButton"] == "OK"
    await notice.synced()
    await notice.send({"type": "metadata", "metadata": META})  # a first page view: after the welcome
    await notice.say("hello")
    assert (await _raw_session(server, database, notice.session_id))["meta"]["title"] == "Pricing"
    await notice.close()
    server.call(update_project(server.services, project.id, settings={"consent": "off"}))
    off = await WidgetClient.connect(server.ws_url, project.public_key)
    assert off.welcome["settings"]["consent"] == "off" and "consentButton" not in off.welcome["settings"]
    await off.close()
    with pytest.raises(InvalidInput) as bad:
        server.call(update_project(server.services, project.id, settings={"consent": "maybe"}))
    assert bad.value.code == "invalid_setting"


async def test_the_required_prechat_form_waits_for_consent_before_its_email(server, project, api, database):
    server.call(update_project(server.services, project.id, settings={"consent": "required", "prechat": "required"}))
    async with websockets.connect(server.ws_url, compression=None) as ws:
        async def send(frame: dict) -> dict:
            await ws.send(orjson.dumps(frame).decode())
            return orjson.loads(await ws.recv())

        form = await send({"type": "hello", "publicKey": project.public_key, "metadata": META})
        assert form["type"] == "prechat" and form["settings"]["consentButton"] == "Accept"
        prechat = {"type": "prechat", "name": "Ana", "email": "ana@example.net", "text": "Hello"}
        assert (await send(prechat))["code"] == "consent_required"
        await ws.send(orjson.dumps({"type": "consent", "accepted": True}).decode())  # taken during the form
        welcome = await send(prechat)
        assert welcome["type"] == "welcome" and welcome["consent"] == "accepted"
        assert welcome["identity"]["email"] == "ana@example.net"
    raw = await _raw_session(server, database, welcome["sessionId"])
    assert raw["consent"] == "accepted" and raw["meta"] == {}  # the hello's metadata was not kept
