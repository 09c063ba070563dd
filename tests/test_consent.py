"""Consent: every form that asks for an email shows the project's consent line; when the
visitor leaves an address under it, when and which text is stored, and the export has it."""

from __future__ import annotations

from pocketping.actions.projects import update_project
from pocketping_testkit.widget_client import WidgetClient

LINE = "We use your email only to answer you. Privacy: https://shop.example/privacy"


async def test_the_consent_line_is_shown_and_agreement_stored_and_exported(server, project, api):
    server.call(update_project(server.services, project.id, settings={"consent_text": LINE}))
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    assert w.welcome["settings"]["consentText"] == LINE
    await w.synced()
    await w.say("hello")
    await w.send({"type": "contact", "email": "ana@example.net"})
    await w.expect("contact")
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    export = (await api.get(f"/api/v1/visitors/{session['visitorId']}/export", headers=project.auth)).json()
    [item] = export["sessions"]
    assert item["consent"]["text"] == LINE and item["consent"]["at"].endswith("Z")
    await w.close()

    # The pre-chat form's email counts the same; without an email nothing is consented to.
    server.call(update_project(server.services, project.id, settings={"prechat": "optional"}))
    other = await WidgetClient.connect(server.ws_url, project.public_key)
    await other.synced()
    await other.send({"type": "prechat", "name": "Bo", "email": "", "text": "Just looking"})
    await other.expect("contact")
    visitor = (await api.get(f"/api/v1/sessions/{other.session_id}", headers=project.auth)).json()["visitorId"]
    assert (await api.get(f"/api/v1/visitors/{visitor}/export", headers=project.auth)).json()[
        "sessions"][0]["consent"] is None
    await other.send({"type": "prechat", "name": "Bo", "email": "bo@example.net", "text": "Now with email"})
    await other.expect("contact")
    assert (await api.get(f"/api/v1/visitors/{visitor}/export", headers=project.auth)).json()[
        "sessions"][0]["consent"]["text"] == LINE
    await other.close()


async def test_without_a_consent_line_nothing_is_recorded(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    assert "consentText" not in w.welcome["settings"]
    await w.synced()
    await w.send({"type": "contact", "email": "cy@example.net"})
    await w.expect("contact")
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    export = (await api.get(f"/api/v1/visitors/{session['visitorId']}/export", headers=project.auth)).json()
    assert export["sessions"][0]["consent"] is None
    await w.close()
