"""The offline form's `contact` frame: the visitor leaves an email, kept in the session's identity."""

from __future__ import annotations

from pocketping_testkit.widget_client import WidgetClient


async def test_contact_stores_the_email_in_the_identity(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "contact", "email": "not an email"})
    error = await w.expect("error")
    assert error["code"] == "invalid_email"
    await w.send({"type": "contact", "email": "  ana@example.com "})
    answer = await w.expect("contact")
    assert answer["email"] == "ana@example.com"
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    assert session["identity"] == {"id": session["visitorId"], "email": "ana@example.com", "name": None,
                                   "traits": {}, "verified": False}
    await w.close()


async def test_contact_keeps_an_identified_visitor(server, project, api):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "identify", "id": "user_42", "name": "Ana", "plan": "pro"})
    await w.expect("identified")
    await w.send({"type": "contact", "email": "ana@work.example"})
    await w.expect("contact")
    session = (await api.get(f"/api/v1/sessions/{w.session_id}", headers=project.auth)).json()
    assert session["identity"]["id"] == "user_42"
    assert session["identity"]["name"] == "Ana"
    assert session["identity"]["email"] == "ana@work.example"
    assert session["identity"]["traits"] == {"plan": "pro"}
    await w.close()
