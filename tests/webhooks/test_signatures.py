"""Webhook signatures: what the server sends verifies; tampered or stale ones never do.
And the SDK's ready-made receivers for Flask and Django, on real servers on loopback."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from pocketping_sdk import PocketPingSync, WebhookVerificationError

from pocketping.webhooks.signing import signature_header
from pocketping_testkit.apps import WsgiThread

SECRET = "whsec_test_0123456789abcdefghijklmnop"
AT = "2030-01-01T00:00:00.000Z"
BODY = orjson.dumps({"id": "ev_abc", "type": "event.triggered", "createdAt": AT, "projectId": "proj_x",
                     "data": {"sessionId": "sess_1", "visitorId": "vis_1", "name": "clicked", "data": {"plan": "pro"},
                              "createdAt": AT}})


def _pp(**kw) -> PocketPingSync:
    return PocketPingSync(secret_key="sk_live_x", base_url="http://127.0.0.1:9", webhook_secret=SECRET, **kw)


def test_a_valid_signature_verifies():
    now = int(time.time())
    event = _pp().verify_webhook(BODY, {"PocketPing-Signature": signature_header(SECRET, now, BODY)})
    assert event.id == "ev_abc" and event.custom_event().data == {"plan": "pro"}
    # Header names are case-insensitive; str bodies work; several secrets (rotation) work.
    pp = PocketPingSync(secret_key="sk_live_x", base_url="http://127.0.0.1:9", webhook_secret=["whsec_old", SECRET])
    assert pp.verify_webhook(BODY.decode(), [("pocketping-signature", signature_header(SECRET, now, BODY))]).id


@pytest.mark.parametrize("mutate, code", [
    (lambda body, header: (body.replace(b"pro", b"ent"), header), "invalid_signature"),
    (lambda body, header: (body + b" ", header), "invalid_signature"),
    (lambda body, header: (body, header[:-1] + ("0" if header[-1] != "0" else "1")), "invalid_signature"),
    (lambda body, header: (body, header.replace("v1=", "v0=")), "invalid_signature"),
    (lambda body, header: (body, ""), "missing_signature"),
    (lambda body, header: (body, signature_header("whsec_other_secret_000000000000", int(time.time()), body)),
     "invalid_signature"),
])
def test_a_tampered_signature_is_rejected(mutate, code):
    header = signature_header(SECRET, int(time.time()), BODY)
    body, header = mutate(BODY, header)
    with pytest.raises(WebhookVerificationError) as info:
        _pp().verify_webhook(body, {"PocketPing-Signature": header} if header else {})
    assert info.value.code == code


@pytest.mark.parametrize("offset", [-301, -3600, 301])
def test_a_stale_signature_is_rejected(offset):
    now = int(time.time())
    header = signature_header(SECRET, now + offset, BODY)  # correctly signed, but at another time
    with pytest.raises(WebhookVerificationError) as info:
        _pp(clock=lambda: now).verify_webhook(BODY, {"PocketPing-Signature": header})
    assert info.value.code == "stale_signature"
    # Within the tolerance it passes.
    assert _pp(clock=lambda: now).verify_webhook(BODY, {"PocketPing-Signature": signature_header(SECRET, now - 299,
                                                                                                    BODY)})


def test_the_signature_scheme_is_the_documented_one():
    import hashlib
    import hmac

    header = signature_header(SECRET, 1700000000, BODY)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def _post(url: str, body: bytes, header: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"PocketPing-Signature": header, "Content-Type": "application/json"})


def _exercise_receiver(url: str, handled: list) -> None:
    now = int(time.time())
    ok = _post(url, BODY, signature_header(SECRET, now, BODY))
    assert ok.status_code == 200, ok.text
    assert ok.json()["received"] == "ev_abc"
    assert [(kind, event.name, event.data) for kind, event in handled] == [("sync", "clicked", {"plan": "pro"}),
                                                                            ("async", "clicked", {"plan": "pro"})]
    # The same event again (a retry): acknowledged, not handled twice.
    assert _post(url, BODY, signature_header(SECRET, now, BODY)).status_code == 200
    assert len(handled) == 2
    bad = _post(url, BODY.replace(b"pro", b"ent"), signature_header(SECRET, now, BODY))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_signature"
    stale = _post(url, BODY, signature_header(SECRET, now - 3600, BODY))
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "stale_signature"
    assert len(handled) == 2


def _handlers(pp, handled: list) -> None:
    @pp.on_event("clicked")
    def sync_handler(event) -> None:
        handled.append(("sync", event))

    @pp.on_event()
    async def async_handler(event) -> None:
        handled.append(("async", event))


@pytest.mark.parametrize("client", ["sync", "async"])
def test_flask_receiver(client):
    from flask import Flask
    from pocketping_sdk import PocketPing
    from pocketping_sdk.flask import webhook_view

    pp = _pp() if client == "sync" else PocketPing(secret_key="sk_live_x", base_url="http://127.0.0.1:9",
                                                   webhook_secret=SECRET)
    handled: list = []
    _handlers(pp, handled)
    app = Flask("receiver")
    app.add_url_rule("/hook", view_func=webhook_view(pp), methods=["POST"])
    server = WsgiThread(app).start()
    try:
        _exercise_receiver(f"{server.url}/hook", handled)
    finally:
        server.stop()


def test_django_receiver():
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="test",
                           MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"])
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import clear_url_caches, path
    from pocketping_sdk.django import webhook_view

    pp = _pp()
    handled: list = []
    _handlers(pp, handled)
    global urlpatterns
    urlpatterns = [path("hook", webhook_view(pp))]
    clear_url_caches()
    server = WsgiThread(WSGIHandler()).start()
    try:
        _exercise_receiver(f"{server.url}/hook", handled)
        assert httpx.get(f"{server.url}/hook").status_code == 405
    finally:
        server.stop()


urlpatterns: list = []
