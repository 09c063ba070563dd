"""identify(): a verified identity needs userHash; spoofing never reaches anyone's history."""

from __future__ import annotations

from pocketping_sdk import PocketPing

from pocketping.actions.projects import update_project
from pocketping_testkit.widget_client import WidgetClient

IDENTITY_SECRET = "idsec_0123456789abcdef0123"


async def test_identity_spoofing_without_a_valid_user_hash_fails(server, project, api):
    await server.acall(update_project(server.services, project.id, identity_secret=IDENTITY_SECRET))
    pp = PocketPing(secret_key=project.secret_key, base_url=server.base_url, identity_secret=IDENTITY_SECRET)

    # The real user, identified by the site's backend.
    ana = await WidgetClient.connect(server.ws_url, project.public_key)
    await ana.synced()
    await ana.send({"type": "identify", "id": "user_42", "email": "ana@example.com",
                    "userHash": pp.user_hash("user_42")})
    identified = await ana.expect("identified")
    assert identified["identity"]["verified"] is True
    await ana.say("my private order number is 1234")

    # Someone else claims to be user_42: no hash, a wrong hash, a hash of another id.
    mallory = await WidgetClient.connect(server.ws_url, project.public_key)
    await mallory.synced()
    for claim in ({}, {"userHash": "0" * 64}, {"userHash": pp.user_hash("user_43")},
                  {"userHash": pp.user_hash("user_42").upper()[:-1]}, {"userHash": 42}):
        await mallory.send({"type": "identify", "id": "user_42", "email": "ana@example.com", **claim})
        error = await mallory.expect("error")
        assert error["code"] == "identity_rejected"
    # Still anonymous, still their own (empty) history, the connection still works.
    session = (await api.get(f"/api/v1/sessions/{mallory.session_id}", headers=project.auth)).json()
    assert session["identity"] is None
    assert mallory.session_id != ana.session_id
    ack = await mallory.say("hello?")
    assert ack["seq"] == 1
    await mallory.close()
    again = await WidgetClient.connect(server.ws_url, project.public_key, token=mallory.token)
    history = await again.synced()
    assert [f["message"]["text"] for f in history if f["type"] == "message"] == ["hello?"]
    assert again.welcome["identity"] is None
    await again.close()
    await ana.close()
    await pp.aclose()


async def test_without_an_identity_secret_identify_is_unverified_and_grants_nothing(server, project, api):
    ana = await WidgetClient.connect(server.ws_url, project.public_key)
    await ana.synced()
    await ana.send({"type": "identify", "id": "user_7", "name": "Ana"})
    assert (await ana.expect("identified"))["identity"]["verified"] is False
    await ana.say("Ana's secret")
    eve = await WidgetClient.connect(server.ws_url, project.public_key)
    await eve.synced()
    await eve.send({"type": "identify", "id": "user_7", "name": "Ana"})
    assert (await eve.expect("identified"))["identity"]["verified"] is False
    await eve.close()
    eve_again = await WidgetClient.connect(server.ws_url, project.public_key, token=eve.token)
    assert [f for f in await eve_again.synced() if f["type"] == "message"] == []
    assert eve_again.session_id != ana.session_id
    await eve_again.close()
    await ana.close()


def test_user_hash_is_hmac_sha256_of_the_id():
    import hashlib
    import hmac

    pp = PocketPing(secret_key="sk_live_x", base_url="http://127.0.0.1:9", identity_secret=IDENTITY_SECRET)
    assert pp.user_hash("user_42") == hmac.new(IDENTITY_SECRET.encode(), b"user_42", hashlib.sha256).hexdigest()


async def test_bidi_controls_are_removed_from_names_and_one_line_fields(server, project):
    """F12: "abc\u202egnp.exe" must not display as "abcexe.png" in a name."""
    import httpx

    from pocketping_testkit.widget_client import WidgetClient

    w = await WidgetClient.connect(server.ws_url, project.public_key,
                                   metadata={"title": "Pay\u2066ment\u2069", "url": "https://shop.example/\u202e"})
    await w.synced()
    await w.send({"type": "identify", "id": "u\u202d1", "name": "abc\u202egnp.exe", "email": "a\u202a@b.example"})
    identified = await w.expect("identified")
    assert identified["identity"]["name"] == "abcgnp.exe"
    assert identified["identity"]["id"] == "u1" and identified["identity"]["email"] == "a@b.example"
    async with httpx.AsyncClient(base_url=server.base_url, headers=project.auth) as api:
        reply = await api.post(f"/api/v1/sessions/{w.session_id}/messages",
                               json={"text": "hi \u202eevil", "operatorName": "Sa\u202erah"})
        assert reply.status_code == 201 and reply.json()["operatorName"] == "Sarah"
        assert reply.json()["text"] == "hi \u202eevil"  # message text is kept; the views isolate it
        session = (await api.get(f"/api/v1/sessions/{w.session_id}")).json()
    assert session["metadata"]["title"] == "Payment" and session["metadata"]["url"] == "https://shop.example/"
    await w.close()
