"""Answers by email: the visitor answers a reply mail; the built-in receiver turns it into a
visitor message (widget, bridges, inbox); made-up addresses are refused at RCPT TO."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from pocketping.actions.operators import add_operator
from pocketping.actions.projects import create_project, update_project
from pocketping.clock import SystemClock
from pocketping.mail.inbound import own_text
from pocketping_testkit.bridges import connect_telegram
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.mail import MailCatcher
from pocketping_testkit.uvicorn_thread import free_port
from pocketping_testkit.widget_client import WidgetClient

DOMAIN = "reply.example.com"
PASSWORD = "correct-horse-battery-staple"


def _answer(to: str, text: str, message_id: str = "<answer-1@visitor.example>") -> EmailMessage:
    answer = EmailMessage()
    answer["From"] = "Ana <ana@example.net>"
    answer["To"] = to
    answer["Subject"] = "Re: New reply from Acme"
    answer["Message-ID"] = message_id
    answer.set_content(text)
    return answer


@pytest.fixture
def inbound(mail_server, fake_telegram):
    port = free_port()
    srv = mail_server(clock=SystemClock(), reply_domain=DOMAIN, smtp_inbound=f"127.0.0.1:{port}",
                      telegram_api_url=fake_telegram.url)
    project, secret = srv.call(create_project(srv.services, "Acme", []))
    srv.call(update_project(srv.services, project.id, settings={"email_delay": 0}))
    return srv, port, project, {"Authorization": f"Bearer {secret}"}


async def test_an_answer_by_mail_reaches_the_widget_the_bridges_and_the_inbox(inbound, smtp: MailCatcher,
                                                                               fake_telegram):
    srv, port, project, auth = inbound
    telegram = connect_telegram(fake_telegram, srv, project.id)
    await srv.acall(add_operator(srv.services, "sam@example.com", project_ids=[project.id], password=PASSWORD))
    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata={"language": "en"})
    await w.synced()
    await w.say("Is the shop open on Sunday?")
    await w.send({"type": "contact", "email": "ana@example.net"})
    await w.expect("contact")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Yes, 10 to 4."})
        [mail] = smtp.wait_for(1)
        reply_to = str(mail["Reply-To"])
        assert reply_to.startswith("reply+") and reply_to.endswith("@" + DOMAIN)
        await telegram.wait_post("Yes, 10 to 4.")

        body = ("Great, see you then!\n\nAna\n-- \nAna Lima, Lima & Co\n\n"
                "On Wed, Dec 2, 2026 at 10:00 AM Support <support@example.com> wrote:\n> Yes, 10 to 4.\n")
        await aiosmtplib.send(_answer(reply_to.upper().replace("@" + DOMAIN.upper(), "@" + DOMAIN), body),
                              hostname="127.0.0.1", port=port)
        frame = await w.expect("message", source="email")
        assert frame["message"]["sender"] == "visitor"
        assert frame["message"]["text"] == "Great, see you then!\n\nAna"
        await telegram.wait_post("Great, see you then!")
        assert not any("Lima & Co" in t or "wrote:" in t for t in telegram.texts())
        async with InboxClient(srv.base_url) as inbox:  # the inbox shows it too
            await inbox.login("sam@example.com", PASSWORD)
            opened = (await inbox.get(f"/conversations/{w.session_id}")).json()["messages"]
            assert [m["text"] for m in opened if m["sender"] == "visitor"][-1] == "Great, see you then!\n\nAna"
        listed = (await api.get(f"/api/v1/sessions/{w.session_id}/messages")).json()["messages"]
        assert [m["text"] for m in listed if m["sender"] == "visitor"] == [
            "Is the shop open on Sunday?", "Great, see you then!\n\nAna"]

        # The same mail delivered twice (an MTA retrying) is one message.
        await aiosmtplib.send(_answer(reply_to, body), hostname="127.0.0.1", port=port)
        # A made-up or forged address is refused at RCPT TO, and nothing is stored.
        for address in ("reply+aaaaaaaaaaaaaaaaaaaaaaaa@" + DOMAIN, reply_to.replace("@" + DOMAIN, "@evil.example"),
                        "support@" + DOMAIN):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await aiosmtplib.send(_answer(address, "let me in", "<x@evil.example>"), hostname="127.0.0.1",
                                      port=port)
            assert refused.value.recipients[0].code == 550
        again = (await api.get(f"/api/v1/sessions/{w.session_id}/messages")).json()["messages"]
        assert len(again) == len(listed)
    await w.close()


async def test_answers_are_rate_limited_per_address_and_large_mail_is_refused(inbound, smtp: MailCatcher):
    srv, port, project, auth = inbound
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "contact", "email": "bo@example.net"})
    await w.expect("contact")
    async with httpx.AsyncClient(base_url=srv.base_url, headers=auth) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Hi Bo"})
    reply_to = str(smtp.wait_for(1)[0]["Reply-To"])
    with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:  # SIZE, at MAIL FROM
        await aiosmtplib.send(_answer(reply_to, "x" * 1_100_000, "<big@example.net>"), hostname="127.0.0.1", port=port)
    assert too_big.value.code == 552
    codes = []
    for n in range(8):
        try:
            await aiosmtplib.send(_answer(reply_to, f"answer {n}", f"<a{n}@example.net>"), hostname="127.0.0.1",
                                  port=port)
            codes.append(250)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes.append(exc.recipients[0].code)
    assert 450 in codes and codes.count(250) <= 5
    await w.close()


def test_quoted_history_and_signatures_are_stripped():
    assert own_text("Merci !\n\nLe mer. 2 déc. 2026 à 10:00, Support <s@example.com> a écrit :\n> Bonjour") == "Merci !"
    assert own_text("Danke\n\nAm 02.12.2026 um 10:00 schrieb Support <s@example.com>:\n> Hallo") == "Danke"
    assert own_text("Sure.\r\n\r\nSent from my iPhone\r\n") == "Sure."
    assert own_text("Ok\n\n-----Original Message-----\nFrom: Support <s@example.com>\nHi") == "Ok"
    assert own_text("Yes\n________________________________\nFrom: Support <s@example.com>") == "Yes"
    assert own_text("> only a quote") == ""
    assert own_text("line one\nline two\n\n\n\nline three") == "line one\nline two\n\nline three"
