"""How a mail reads: multipart text and HTML, in the visitor's language, with the project's name
and colour, no remote images or tracking, and one-click unsubscribe headers (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from pocketping.mail.strings import word, words

_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")


@dataclass(frozen=True)
class Line:
    who: str  # "visitor", or the name shown for an operator or the AI
    text: str
    at: datetime


@dataclass(frozen=True)
class Mail:
    kind: str  # "replies" | "transcript"
    project_name: str
    colour: str
    locale: str
    lines: tuple[Line, ...]
    sender: Address
    to: str
    message_id: str
    date: datetime
    continue_url: str | None = None
    unsubscribe_url: str | None = None
    reply_to: str | None = None


def _who(line: Line, you: str) -> str:
    return you if line.who == "visitor" else line.who


def _text(mail: Mail) -> str:
    w = words(mail.locale)
    out = [word(mail.locale, mail.kind, "intro").format(project=mail.project_name), ""]
    for line in mail.lines:
        out += [f"{_who(line, w['you'])}:", line.text, ""]
    if mail.continue_url:
        out += [f"{word(mail.locale, mail.kind, 'continue')}: {mail.continue_url}", ""]
    if mail.reply_to:
        out += [w["answer"], ""]
    out += ["-- ", word(mail.locale, mail.kind, "why").format(project=mail.project_name)]
    if mail.unsubscribe_url:
        out.append(f"{w['unsubscribe']}: {mail.unsubscribe_url}")
    return "\n".join(out) + "\n"


def _html(mail: Mail) -> str:
    w = words(mail.locale)
    colour = mail.colour if _COLOUR.fullmatch(mail.colour) else "#2563eb"
    direction = "rtl" if mail.locale == "ar" else "ltr"
    name = escape(mail.project_name)
    rows = []
    for line in mail.lines:
        mine = line.who == "visitor"
        style = ("background:#f1f5f9;color:#0f172a" if mine else f"background:{colour};color:#ffffff")
        rows.append(
            f'<tr><td style="padding:6px 0"><div style="font-size:12px;color:#64748b;margin-bottom:2px">'
            f'{escape(_who(line, w["you"]))}</div><div style="{style};border-radius:10px;padding:10px 12px;'
            f'white-space:pre-wrap;word-wrap:break-word">{escape(line.text)}</div></td></tr>')
    button = (f'<p style="margin:24px 0"><a href="{escape(mail.continue_url, quote=True)}" style="background:{colour};'
              f'color:#ffffff;text-decoration:none;padding:10px 18px;border-radius:8px;display:inline-block">'
              f'{escape(word(mail.locale, mail.kind, "continue"))}</a></p>') if mail.continue_url else ""
    answer = f'<p style="color:#334155">{escape(w["answer"])}</p>' if mail.reply_to else ""
    unsubscribe = (f' <a href="{escape(mail.unsubscribe_url, quote=True)}" style="color:#64748b">'
                   f'{escape(w["unsubscribe"])}</a>') if mail.unsubscribe_url else ""
    return (
        f'<!DOCTYPE html><html lang="{mail.locale}" dir="{direction}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(subject(mail))}</title></head>'
        f'<body style="margin:0;padding:24px;background:#f8fafc;font-family:-apple-system,Segoe UI,Roboto,'
        f'Helvetica,Arial,sans-serif;font-size:15px;line-height:1.45">'
        f'<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:12px;overflow:hidden;'
        f'border:1px solid #e2e8f0"><div style="background:{colour};color:#ffffff;padding:16px 20px;'
        f'font-size:18px;font-weight:600">{name}</div><div style="padding:20px">'
        f'<p style="margin-top:0">{escape(word(mail.locale, mail.kind, "intro").format(project=mail.project_name))}'
        f'</p>'
        f'<table role="presentation" width="100%" cellspacing="0" cellpadding="0">{"".join(rows)}</table>'
        f'{button}{answer}</div></div>'
        f'<p style="max-width:560px;margin:16px auto 0;font-size:12px;color:#64748b">'
        f'{escape(word(mail.locale, mail.kind, "why").format(project=mail.project_name))}{unsubscribe}</p>'
        f'</body></html>'
    )


def subject(mail: Mail) -> str:
    # One line whatever the project's name holds: a header never takes a line break.
    return " ".join(word(mail.locale, mail.kind, "subject").format(project=mail.project_name).split())


def build(mail: Mail) -> EmailMessage:
    """The message to send: text first, HTML second (multipart/alternative)."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = subject(mail)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    if mail.unsubscribe_url:
        # RFC 8058: a one-click POST to this address unsubscribes, no page to go through.
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_text(mail))
    message.add_alternative(_html(mail), subtype="html")
    message["Content-Language"] = mail.locale  # after the parts: set_content drops Content-* headers
    return message
