"""POCKETPING_SMTP_URL and POCKETPING_MAIL_FROM: what they mean, what is refused, STARTTLS rules."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from pocketping.config import Settings
from pocketping.mailaddr import SmtpServer, parse_mail_from, parse_smtp_url
from pocketping.store import outbox as q
from pocketping_testkit.mail import MailCatcher, advance
from pocketping_testkit.widget_client import WidgetClient


def test_smtp_urls():
    assert parse_smtp_url("smtp://user:p%40ss@mail.example.com:587") == SmtpServer(
        "mail.example.com", 587, "user", "p@ss", "starttls")
    assert parse_smtp_url("smtp://mail.example.com").port == 587
    assert parse_smtp_url("smtps://u:p@mail.example.com").tls == "tls"
    assert parse_smtp_url("smtps://u:p@mail.example.com").port == 465
    assert parse_smtp_url("smtp://relay:25?starttls=off").tls == "off"
    for bad in ("http://mail.example.com", "smtp://", "smtp://h:587?tls=1", "smtp://h?starttls=maybe"):
        with pytest.raises(ValueError, match="POCKETPING_SMTP_URL"):
            parse_smtp_url(bad)


def test_mail_from():
    sender = parse_mail_from("Support <support@example.com>")
    assert (sender.display_name, sender.addr_spec) == ("Support", "support@example.com")
    assert parse_mail_from("help@example.org").addr_spec == "help@example.org"
    for bad in ("Support", "<@example.com>", "support@"):
        with pytest.raises(ValueError, match="POCKETPING_MAIL_FROM"):
            parse_mail_from(bad)


def test_settings_refuse_a_bad_url_at_start_up():
    with pytest.raises(ValidationError, match="must start with smtp://"):
        Settings(smtp_url="mail.example.com:587")
    assert Settings(smtp_url="smtp://h:587", mail_from="a@b.example").mail_ready()
    assert not Settings(smtp_url="smtp://h:587").mail_ready()


async def test_starttls_is_required_unless_turned_off(mail_server, smtp: MailCatcher):
    """aiosmtpd here offers no STARTTLS: with plain smtp:// nothing is sent in clear text."""
    from pocketping.actions.projects import create_project

    srv = mail_server(smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    project, secret = srv.call(create_project(srv.services, "Acme", []))
    w = await WidgetClient.connect(srv.ws_url, project.public_key)
    await w.synced()
    await w.send({"type": "contact", "email": "ana@example.net"})
    await w.expect("contact")
    async with httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        await api.post(f"/api/v1/sessions/{w.session_id}/messages", json={"text": "Hello"})
    await w.close()

    async def row():
        async with srv.services.db.read() as tx:
            return (await q.list_items(tx, project_id=project.id, target="mail"))[0]

    tried = []

    def failed_once() -> bool:
        item = srv.call(row())
        tried.append(item)
        return item.attempts >= 1

    await advance(srv, 300, failed_once)
    item = tried[-1]
    assert "does not offer STARTTLS" in item.last_error and "?starttls=off" in item.last_error
    assert smtp.messages == []


def test_doctor_signs_in_at_the_smtp_server(tmp_path, smtp: MailCatcher):
    import orjson
    from typer.testing import CliRunner

    from pocketping.wiring import cli_app

    env = {"POCKETPING_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "POCKETPING_DATA_DIR": str(tmp_path),
           "POCKETPING_SMTP_URL": smtp.url, "POCKETPING_MAIL_FROM": "Support <support@example.com>"}
    runner = CliRunner()
    assert runner.invoke(cli_app(), ["migrate"], env=env).exit_code == 0
    result = runner.invoke(cli_app(), ["doctor", "--json"], env=env)
    report = orjson.loads(result.stdout)["mail"]
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["smtp"]["ok"] and "127.0.0.1" in checks["smtp"]["detail"]
    assert not checks["unsubscribe"]["ok"]  # no POCKETPING_PUBLIC_URL
    assert result.exit_code == 1
    smtp.stop()
    down = orjson.loads(runner.invoke(cli_app(), ["doctor", "--json"], env=env).stdout)["mail"]
    assert "could not reach the SMTP server" in {f["check"]: f for f in down["findings"]}["smtp"]["detail"]
    assert smtp.messages == []  # the check sends nothing
    smtp.start()


def test_a_project_name_cannot_break_the_headers():
    from datetime import UTC, datetime

    from pocketping.mail import compose

    mail = compose.Mail(kind="replies", project_name="Acme\r\nBcc: victim@example.com", colour="red;x", locale="xx",
                        lines=(compose.Line("Bob", "hi", datetime(2030, 1, 1, tzinfo=UTC)),),
                        sender=parse_mail_from("Support <support@example.com>"), to="ana@example.net",
                        message_id="<m@example.com>", date=datetime(2030, 1, 1, tzinfo=UTC))
    built = compose.build(mail)
    assert built["Subject"] == "New reply from Acme Bcc: victim@example.com"
    assert built["Bcc"] is None
    assert "#2563eb" in built.get_body(("html",)).get_content()  # a colour that is no colour is not used
