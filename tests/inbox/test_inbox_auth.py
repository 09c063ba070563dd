"""Signing in to the inbox: passwords, cookies, CSRF, rate limits, sign-out. Real server, real HTTP."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from pocketping.actions.operators import remove_operator, reset_password
from pocketping.clock import FakeClock
from pocketping.store.schema import inbox_logins, operators
from pocketping_testkit.inbox_client import InboxClient

from .helpers import PASSWORD, make_operator, new_email


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name (the raw header, attributes and all)."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_sign_in_page_is_a_labelled_form_with_safe_headers(server):
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        page = await http.get("/inbox")
    assert page.status_code == 200
    text = page.text
    assert '<label for="email">Email</label>' in text and 'id="email"' in text
    assert '<label for="password">Password</label>' in text and 'type="password"' in text
    assert '<button type="submit">Sign in</button>' in text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    form_cookie = _set_cookies(page)["pp_signin"].lower()
    assert "httponly" in form_cookie and "samesite=strict" in form_cookie


async def test_wrong_password_or_unknown_email_is_refused(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        for email, password in ((op.email, "wrong-password-123"), (new_email(), PASSWORD)):
            response = await client.post_login(email, password, await client.sign_in_form())
            assert response.status_code == 401
            assert 'role="alert">Wrong email or password.</p>' in response.text
            assert "pp_inbox" not in _set_cookies(response)
        assert (await client.get("/conversations")).status_code == 401
        # The right password still works afterwards (two failures are below the limit).
        await client.login(op.email, op.password)
        assert (await client.get("/conversations")).status_code == 200


async def test_sign_in_needs_the_form_token_and_our_origin(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        token = await client.sign_in_form()
        for form_token, origin in ((None, server.base_url), ("forged-token-value", server.base_url),
                                   (token, "https://evil.example")):
            data = {"email": op.email, "password": op.password}
            if form_token:
                data["csrf_token"] = form_token
            response = await client.http.post("/inbox/login", data=data, headers={"Origin": origin})
            assert response.status_code == 403, (form_token, origin)
            assert "pp_inbox" not in _set_cookies(response)
        assert (await client.get("/me")).status_code == 401


async def test_session_cookie_is_httponly_samesite_and_not_secure_over_http(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        response = await client.post_login(op.email, op.password, await client.sign_in_form())
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    cookie = _set_cookies(response)["pp_inbox"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie


async def test_sign_in_returns_to_the_conversation_a_link_pointed_at(server, project):
    """Chat-app cards link to /inbox#sess_...; the page keeps the hash in the form's "next" field."""
    op = await make_operator(server, project.id)
    for given, expected in (("#sess_Ab12Cd34", "/inbox#sess_Ab12Cd34"), ("//evil.example/x", "/inbox"),
                            ("#sess_x/../../evil", "/inbox"), ("", "/inbox")):
        async with InboxClient(server.base_url) as client:
            response = await client.post_login(op.email, op.password, await client.sign_in_form(), next_=given)
            assert response.status_code == 303 and response.headers["location"] == expected, given


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(server, project):
    """Behind a TLS-terminating proxy (X-Forwarded-Proto from a trusted address)."""
    op = await make_operator(server, project.id)
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        page = await http.get("/inbox", headers=https)
        form = _set_cookies(page)["__Host-pp_signin"]
        assert "Secure" in form
        token = form.split("=", 1)[1].split(";", 1)[0]
        origin = "https://" + server.base_url.split("://", 1)[1]
        response = await http.post("/inbox/login", data={"email": op.email, "password": op.password,
                                                         "csrf_token": token},
                                   headers={**https, "Origin": origin, "Cookie": f"__Host-pp_signin={token}"})
    assert response.status_code == 303
    cookie = _set_cookies(response)["__Host-pp_inbox"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie


async def test_every_change_needs_the_csrf_token_and_our_origin(server, project, api):
    op = await make_operator(server, project.id)
    from .helpers import visitor

    widget = await visitor(server, project.public_key, "hello")
    sid = widget.session_id
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        path = f"/conversations/{sid}"
        attempts = [
            ("messages", {"text": "no token"}, {"csrf": False}),
            ("messages", {"text": "bad token"}, {"csrf": False, "headers": {"X-CSRF-Token": "x" * 32}}),
            ("messages", {"text": "foreign"}, {"headers": {"Origin": "https://evil.example"}}),
            ("close", {}, {"csrf": False}),
            ("ai", {"enabled": False}, {"csrf": False}),
            ("read", {"seq": 1}, {"csrf": False}),
        ]
        for action, body, options in attempts:
            response = await client.post(f"{path}/{action}", body, **options)  # type: ignore[arg-type]
            assert response.status_code == 403, (action, options)
            assert response.json()["error"]["code"] in ("csrf_failed", "origin_not_allowed")
        # Nothing happened.
        stored = (await api.get(f"/api/v1/sessions/{sid}/messages", headers=project.auth)).json()["messages"]
        assert [m["text"] for m in stored] == ["hello"]
        session = (await api.get(f"/api/v1/sessions/{sid}", headers=project.auth)).json()
        assert session["status"] == "active" and session["aiEnabled"] is True and session["operatorReadSeq"] == 0
        # Sign-out is a change too.
        response = await client.http.post("/inbox/logout", data={}, headers=client.headers(csrf=False))
        assert response.status_code == 403
        assert (await client.get("/me")).status_code == 200
    await widget.close()


async def test_sign_out_ends_the_sign_in(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        cookie = client.cookie_header()
        response = await client.http.post("/inbox/logout", data={"csrf_token": client.csrf},
                                          headers=client.headers(csrf=False))
        assert response.status_code == 303
        assert 'pp_inbox=""' in _set_cookies(response)["pp_inbox"]
    async with httpx.AsyncClient(base_url=server.base_url) as http:  # the old cookie, replayed
        assert (await http.get("/inbox/api/me", headers={"Cookie": cookie})).status_code == 401
        page = await http.get("/inbox", headers={"Cookie": cookie})
        assert "Sign in</button>" in page.text


async def test_password_reset_and_removal_end_every_sign_in(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as first, InboxClient(server.base_url) as second:
        await first.login(op.email, op.password)
        await second.login(op.email, op.password)
        _, new_password = await server.acall(reset_password(server.services, op.email))
        assert new_password and len(new_password) >= 20
        for client in (first, second):
            assert (await client.get("/me")).status_code == 401
        with_old = await first.post_login(op.email, op.password, await first.sign_in_form())
        assert with_old.status_code == 401
        await first.login(op.email, new_password)
        await server.acall(remove_operator(server.services, op.email))
        assert (await first.get("/me")).status_code == 401


async def test_passwords_and_cookies_are_stored_only_as_hashes(server, project):
    op = await make_operator(server, project.id)
    async with InboxClient(server.base_url) as client:
        await client.login(op.email, op.password)
        token = next(c.value for c in client.http.cookies.jar if c.name == "pp_inbox")

    async def rows() -> tuple[str, list[str]]:
        async with server.services.db.read() as tx:
            stored = (await tx.conn.execute(select(operators.c.password_hash).where(
                operators.c.email == op.email))).scalar_one()
            logins = [r[0] for r in await tx.conn.execute(select(inbox_logins.c.id))]
            return stored, logins

    stored, logins = await server.acall(rows())
    assert stored.startswith("scrypt$") and op.password not in stored
    assert token not in logins
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() in logins


async def test_failed_sign_ins_are_limited_per_account_and_per_address(make_server):
    from pocketping.actions.projects import create_project

    clock = FakeClock()
    srv = make_server(clock=clock, inbox_login_failures_per_account=3, inbox_login_failures_per_ip=5,
                      inbox_login_window_seconds=900)
    project, _ = await srv.acall(create_project(srv.services, "Limits"))
    alice, bob, carol = [await make_operator(srv, project.id) for _ in range(3)]
    async with InboxClient(srv.base_url) as client:
        async def attempt(email: str, password: str) -> httpx.Response:
            client.http.cookies.clear()  # each attempt as a fresh browser
            return await client.post_login(email, password, await client.sign_in_form())

        for _ in range(3):
            assert (await attempt(alice.email, "not-her-password")).status_code == 401
        # Alice's account is locked for now, even with the right password ...
        locked = await attempt(alice.email, alice.password)
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 900
        assert 'role="alert">Too many failed sign-ins.' in locked.text
        # ... but not Bob's.
        assert (await attempt(bob.email, bob.password)).status_code == 303
        # Two more failures make five from this address: everyone is refused from here.
        for _ in range(2):
            assert (await attempt(bob.email, "not-his-password")).status_code == 401
        assert (await attempt(carol.email, carol.password)).status_code == 429
        # Failures count for a window only.
        clock.advance(901)
        assert (await attempt(alice.email, alice.password)).status_code == 303


async def test_knowing_an_email_is_not_enough_to_lock_its_operator_out(make_server):
    """F7: failures lock an (account, address) pair; across addresses they only slow the account."""
    from pocketping.actions.projects import create_project
    from pocketping_testkit.bridges import advance_until

    clock = FakeClock()
    srv = make_server(clock=clock, inbox_login_failures_per_account=3, inbox_login_failures_per_ip=20,
                      inbox_login_window_seconds=900)
    project, _ = await srv.acall(create_project(srv.services, "Lockout"))
    alice = await make_operator(srv, project.id)
    async with InboxClient(srv.base_url) as client:
        async def attempt(password: str, address: str) -> httpx.Response:
            client.http.cookies.clear()
            form = {"email": alice.email, "password": password, "next": "",
                    "csrf_token": await client.sign_in_form()}
            return await client.http.post("/inbox/login", data=form,
                                          headers={"Origin": srv.base_url, "X-Forwarded-For": address})

        async def slowed(password: str, address: str) -> tuple[httpx.Response, float]:
            task = asyncio.ensure_future(attempt(password, address))
            spent = await advance_until(clock, task.done, step=0.5, settle=0.05, limit_seconds=60)
            return await task, spent

        for _ in range(3):  # the attacker, from one address
            assert (await attempt("guess", "198.51.100.7")).status_code == 401
        assert (await attempt(alice.password, "198.51.100.7")).status_code == 429  # that pair is locked
        # Alice, from her own address: slowed a little, not refused.
        response, spent = await slowed(alice.password, "203.0.113.9")
        assert response.status_code == 303 and spent >= 0.5

        # Guessing from many addresses makes each attempt on the account wait longer (her sign-in
        # cleared the count): six failures past none, so 0.5 s doubled three times.
        for n in range(6):
            response, _ = await slowed("guess", f"192.0.2.{n + 10}")
            assert response.status_code == 401
        response, spent = await slowed(alice.password, "203.0.113.50")
        assert response.status_code == 303 and spent >= 4.0  # slowed, still signed in
