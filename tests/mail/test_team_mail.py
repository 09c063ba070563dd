"""The team hears of it: an operator with --notify email gets a mail for a new conversation, or a
visitor's message still unanswered, while nobody is online, and none while they are in the inbox."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from pocketping.actions.operators import add_operator, set_notify
from pocketping.actions.projects import create_project
from pocketping.wiring import cli_app
from pocketping_testkit.inbox_client import InboxClient
from pocketping_testkit.mail import MailCatcher, advance, mail_rows_done, parts
from pocketping_testkit.widget_client import WidgetClient

PASSWORD = "correct-horse-battery-staple"


async def _visitor(srv, project, *texts: str) -> WidgetClient:
    w = await WidgetClient.connect(srv.ws_url, project.public_key, metadata={"url": "https://shop.example/cart"})
    await w.synced()
    for text in texts:
        await w.say(text)
    return w


async def test_one_mail_for_a_new_conversation_while_nobody_is_online(mail_server, smtp: MailCatcher):
    srv = mail_server()
    project, _ = srv.call(create_project(srv.services, "Acme", []))
    await srv.acall(add_operator(srv.services, "sam@example.com", project_ids=[project.id], password=PASSWORD))
    await srv.acall(add_operator(srv.services, "quiet@example.com", project_ids=[project.id], password=PASSWORD))
    await srv.acall(set_notify(srv.services, "sam@example.com", notify="email", notify_after=120))

    first = await _visitor(srv, project, "Hello, is anyone there?", "I need help with my order")
    [mail] = smtp.wait_for(1)
    assert mail["To"] == "sam@example.com"
    assert mail["Subject"] == "New conversation on Acme"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, _ = parts(mail)
    assert "Hello, is anyone there?" in text and f"/inbox#{first.session_id}" in text
    # The second message is "unanswered" only after --notify-after, and only if still unanswered.
    await advance(srv, 121, mail_rows_done(srv, project.id))
    [_, unanswered] = smtp.wait_for(2)
    assert unanswered["Subject"] == "Unanswered message on Acme"
    assert "I need help with my order" in parts(unanswered)[0]

    # Signed in to the inbox: nobody is mailed.
    async with InboxClient(srv.base_url) as inbox:
        await inbox.login("sam@example.com", PASSWORD)
        sock = await inbox.socket()
        await srv.acall(srv.node.outbox.wait_idle())
        second = await _visitor(srv, project, "Hi, do you ship abroad?")
        await advance(srv, 121, mail_rows_done(srv, project.id))
        assert len(smtp.messages) == 2
        await sock.close()
        await second.close()
    await first.close()
    assert {str(m["To"]) for m in smtp.messages} == {"sam@example.com"}  # quiet@ asked for nothing


def test_operator_update_sets_the_notifications(mail_server, smtp: MailCatcher):
    srv = mail_server()
    srv.call(add_operator(srv.services, "eve@example.com", admin=True, password=PASSWORD))
    env = {"POCKETPING_DATABASE_URL": srv.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": srv.settings.encryption_key.get_secret_value(),
           "POCKETPING_DATA_DIR": str(srv.settings.data_dir)}
    runner = CliRunner()
    refused = runner.invoke(cli_app(), ["operator", "update", "eve@example.com", "--notify", "email", "--json"],
                            env=env)
    assert refused.exit_code != 0 and "mail_not_configured" in refused.output  # this CLI has no SMTP
    env |= {"POCKETPING_SMTP_URL": smtp.url, "POCKETPING_MAIL_FROM": "Support <support@example.com>"}
    done = runner.invoke(cli_app(), ["operator", "update", "eve@example.com", "--notify", "email",
                                     "--notify-after", "600", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout) == {"email": "eve@example.com", "notify": "email", "notifyAfter": 600}
    bad = runner.invoke(cli_app(), ["operator", "update", "eve@example.com", "--notify", "sms"], env=env)
    assert bad.exit_code != 0 and "email or none" in bad.output


async def test_a_hand_off_mails_the_team_while_nobody_is_online(mail_server, smtp: MailCatcher):
    from pocketping.actions.ai import update_ai_settings
    from pocketping.core.ai_copy import HANDOFF
    from pocketping_testkit.fakes.llm import FakeLLM

    srv = mail_server()
    project, _ = srv.call(create_project(srv.services, "Acme", []))
    await srv.acall(add_operator(srv.services, "sam@example.com", project_ids=[project.id], password=PASSWORD))
    await srv.acall(set_notify(srv.services, "sam@example.com", notify="email", notify_after=120))
    with FakeLLM() as llm:
        await srv.acall(update_ai_settings(srv.services, project.id, {
            "enabled": True, "provider": "openai", "model": "gpt-test", "base_url": llm.openai_url,
            "delay_seconds": 60}, api_key=llm.openai_key))
        w = await _visitor(srv, project, "Hello")
        [new] = smtp.wait_for(1)
        assert new["Subject"] == "New conversation on Acme"
        await w.say("I want to talk to a human")
        said = (await w.expect("message", sender="ai"))["message"]["text"]
        # Mail is on: the visitor, who left no address, is told they may leave one.
        assert said == HANDOFF["en"][0] + HANDOFF["en"][2]
        [_, handoff] = smtp.wait_for(2)
        assert handoff["Subject"] == "A visitor needs a person on Acme"
        text, _ = parts(handoff)
        assert "I want to talk to a human" in text and HANDOFF["en"][0] in text
        assert not llm.requests
        await w.close()
