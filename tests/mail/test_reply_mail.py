"""Replies by email: a visitor who left an address and did not see the replies gets one mail
with all of them, in their language, with one-click unsubscribe; unsubscribing stops them."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from pocketping.actions.projects import create_project
from pocketping_testkit.mail import MailCatcher, advance, mail_rows_done, parts
from pocketping_testkit.widget_client import WidgetClient


def _project(srv, **widget):
    project, secret = srv.call(create_project(srv.services, "Acme Shop", [], widget=widget or None))
    return project, {"Authorization": f"Bearer {secret}"}


async def _settle(srv) -> None:
    await srv.acall(srv.node.outbox.wait_idle())


async def _visitor_leaves_email(srv, project, email: str, language: str = "fr-FR") -> WidgetClient:
    w = await WidgetClient.connect(srv.ws_url, project.public_key,
                                   metadata={"url": "https://shop.example/pricing?plan=pro", "language": language})
    await w.synced()
    await w.say("Anyone there?")
    await w.send({"type": "contact", "email": email})
    await w.expect("contact")
    await w.close()  # the visitor closes the page
    return w


async def test_a_burst_of_unseen_replies_is_one_mail_in_the_visitors_language(mail_server, smtp: MailCatcher):
    srv = mail_server()
    project, auth = _project(srv, primary_color="#ff5500")
    w = await _visitor_leaves_email(srv, project, "ana@example.net")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        for text in ("Hello Ana, we are here now.", "The pro plan <b>includes</b> phone support."):
            r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": text,
                                                                                   "operatorName": "Bob"})
            assert r.status_code == 201
    await _settle(srv)
    assert smtp.messages == []  # not before the delay
    await advance(srv, 301, lambda: len(smtp.messages) >= 1)
    [mail] = smtp.wait_for(1, address="ana@example.net")
    await advance(srv, 60, mail_rows_done(srv, project.id))
    assert len(smtp.messages) == 1  # the second reply's row finds nothing left to mail

    assert mail["From"] == "Support <support@example.com>"
    assert mail["Subject"] == "Nouvelle réponse de Acme Shop"
    assert mail["Content-Language"] == "fr"
    assert mail.get_content_type() == "multipart/alternative"
    unsubscribe = re.fullmatch(r"<(http://127\.0\.0\.1:\d+/email/unsubscribe\?t=[^>]+)>", mail["List-Unsubscribe"])
    assert unsubscribe is not None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, page = parts(mail)
    assert "Hello Ana, we are here now." in text and "The pro plan <b>includes</b> phone support." in text
    assert "Anyone there?" not in text  # only the replies
    assert "Bob" in text
    assert "The pro plan &lt;b&gt;includes&lt;/b&gt; phone support." in page  # text stays inert
    assert "#ff5500" in page and "Acme Shop" in page
    assert "<img" not in page and "src=" not in page  # no tracking pixel, no remote image
    link = re.search(r"Reprendre la conversation: (\S+)", text)
    assert link is not None and link.group(1).startswith("https://shop.example/pricing?plan=pro#pocketping=r1.")

    # The one-click unsubscribe (RFC 8058) stops the mails for that visitor.
    async with httpx.AsyncClient() as client:
        r = await client.post(unsubscribe.group(1), content="List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
        async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
            await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "One more thing"})
    await advance(srv, 301, mail_rows_done(srv, project.id))
    assert len(smtp.messages) == 1


async def test_replies_the_visitor_read_are_not_mailed(mail_server, smtp: MailCatcher):
    srv = mail_server()
    project, auth = _project(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata={"language": "de"})
    await w.synced()
    await w.send({"type": "contact", "email": "max@example.net"})
    await w.expect("contact")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        r = await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Guten Tag"})
    seen = await w.expect("message")
    await w.send({"type": "read", "seq": seen["message"]["seq"]})
    await w.expect("read")
    assert r.status_code == 201
    await advance(srv, 301, mail_rows_done(srv, project.id))
    assert smtp.messages == []
    await w.close()


async def test_resume_link_restores_the_session(mail_server, smtp: MailCatcher):
    srv = mail_server()
    project, auth = _project(srv)
    w = await _visitor_leaves_email(srv, project, "lea@example.net", language="en")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Back to you"})
    await advance(srv, 301, lambda: len(smtp.messages) >= 1)
    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == "New reply from Acme Shop"
    text, _ = parts(mail)
    token = re.search(r"#pocketping=(\S+)", text).group(1)
    again = await WidgetClient.connect(srv.ws_url, project.public_key, token=token)
    assert again.session_id == w.session_id
    await again.close()
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    other = await WidgetClient.connect(srv.ws_url, project.public_key, token=forged)
    assert other.session_id != w.session_id
    await other.close()
    srv.clock.advance(31 * 86400)  # the link expires
    late = await WidgetClient.connect(srv.ws_url, project.public_key, token=token)
    assert late.session_id != w.session_id
    await late.close()


async def test_smtp_down_for_a_minute_the_mail_is_sent_once_when_it_is_back(mail_server, smtp: MailCatcher):
    from pocketping.store import outbox as q
    from pocketping_testkit.bridges import advance_until

    srv = mail_server()
    project, auth = _project(srv)
    w = await _visitor_leaves_email(srv, project, "kim@example.net", language="es")
    smtp.stop()
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Hola Kim"})
    await advance(srv, 300)

    async def mail_rows():
        async with srv.services.db.read() as tx:
            return await q.list_items(tx, project_id=project.id, target="mail")

    back = srv.clock.now() + timedelta(seconds=60)  # a minute of refused connections, retried with backoff
    await advance_until(srv.clock, lambda: srv.clock.now() >= back, step=5, settle=0.1)
    [row] = await srv.acall(mail_rows())
    assert row.status == "pending" and row.attempts >= 2 and "could not reach the SMTP server" in row.last_error
    smtp.start()
    await advance_until(srv.clock, lambda: len(smtp.messages) >= 1, step=5, settle=0.2)
    await advance(srv, 3600, mail_rows_done(srv, project.id))
    [mail] = smtp.messages
    assert mail["Subject"] == "Nueva respuesta de Acme Shop"
    [row] = await srv.acall(mail_rows())
    assert row.status == "done" and row.result["sent"] is True


async def test_transcript_is_mailed_when_the_conversation_closes(mail_server, smtp: MailCatcher):
    srv = mail_server()
    project, auth = _project(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata={"language": "pt-BR"})
    assert w.welcome["mail"] == "Enviar esta conversa por e-mail"
    await w.synced()
    await w.send({"type": "transcript"})
    assert (await w.expect("error"))["code"] == "no_email"
    await w.say("Olá, preciso de ajuda")
    await w.send({"type": "contact", "email": "rui@example.net"})
    await w.expect("contact")
    await w.send({"type": "transcript"})
    assert (await w.expect("transcript"))["email"] == "rui@example.net"
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Claro, diga", "operatorName": "Eva"})
        await _settle(srv)
        assert smtp.messages == []  # not before it closes
        assert (await api.post(f"/api/v1/sessions/{w.session_id}/close")).status_code == 200
    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == "Sua conversa com Acme Shop"
    text, _ = parts(mail)
    assert text.index("Olá, preciso de ajuda") < text.index("Claro, diga")
    assert "Você:" in text and "Eva:" in text
    await advance(srv, 301, mail_rows_done(srv, project.id))
    assert len(smtp.messages) == 1  # the reply it holds is not mailed again
    await w.close()


async def test_without_smtp_the_widget_offers_no_transcript(make_server):
    srv = make_server()
    project, _ = _project(srv)
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    assert w.welcome["mail"] is None
    await w.synced()
    await w.send({"type": "transcript"})
    assert (await w.expect("error"))["code"] == "mail_not_configured"
    await w.close()
