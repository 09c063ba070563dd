"""Everything the team reads in its threads that PocketPing itself writes: the session card
that opens every thread, notice lines, command answers. One place for the wording.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from pocketping.core.bridge_config import label
from pocketping.core.models import Project, Session, SessionCard, iso

# Where a conversation opens in the web inbox (its page reads the session id from the hash).
INBOX_LINK = "{base}/inbox#{session_id}"
EVENT_LINE_CHARS = 300

GONE_NOTE = "The previous topic/thread was deleted; the conversation continues here."

HELP = """Commands (type them in this thread):
/close — close the conversation (the visitor can still write; that reopens it)
/reopen — reopen it
/info — who the visitor is and where they are
/ai on, /ai off — let the AI answer when nobody has, or not, in this conversation
/assign NAME, /assign me, /assign nobody — who is on this conversation (a name or email of the team)
/r SHORTCUT — send a saved reply (pocketping reply list PROJECT_ID)
/note TEXT — a note for the team only: the visitor never sees it
/away — show the team as away to every visitor; /back — show it online again
/help — this list
Anything else you write here is sent to the visitor."""

ALREADY_CLOSED = "This conversation is already closed."
ALREADY_OPEN = "This conversation is open."
AWAY = "Visitors now see the team as away. Send /back when you are here again."
BACK = "Visitors now see the team online (until nobody has been active for a while)."
AI_USAGE = "Use /ai on or /ai off."
USAGE = {"assign": "Use /assign NAME (a name or email of the team), /assign me or /assign nobody.",
         "r": "Use /r SHORTCUT to send a saved reply.",
         "note": "Use /note TEXT: the team sees it, the visitor never does."}


def assigned_line(name: str | None, origin_note: str) -> str:
    return (f"Assigned to {name}" if name else "Unassigned") + origin_note


def rated_line(rating: dict[str, Any]) -> str:
    score = int(rating.get("score") or 0)
    shown = ("👍" if score else "👎") if rating.get("scale") == "thumbs" else "★" * score + "☆" * (5 - score)
    comment = rating.get("comment")
    return f"The visitor rated this conversation {shown}" + (f": {comment}" if comment else "")


def note_line(author: str, text: str) -> str:
    return f"📝 Note from {author}: {text}"


# --- the session card -------------------------------------------------------------------

def _page_label(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{parts.hostname or ''}{path}" if path == "/" else path


def card_lines(session: Session) -> list[tuple[str, str]]:
    meta = session.metadata
    lines: list[tuple[str, str]] = []
    if session.identity is not None:
        who = session.identity
        lines.append(("Visitor", " ".join(x for x in (who.name, f"<{who.email}>" if who.email else None) if x)
                      + (" (verified)" if who.verified else "") or who.id))
    for key, name in (("url", "Page"), ("title", "Page title"), ("referrer", "Referrer")):
        if meta.get(key):
            lines.append((name, str(meta[key])))
    device = " · ".join(str(meta[k]) for k in ("browser", "os", "device") if meta.get(k))
    if device:
        lines.append(("Browser", device))
    for key, name in (("language", "Language"), ("timezone", "Timezone")):
        if meta.get(key):
            lines.append((name, str(meta[key])))
    if session.country:
        lines.append(("Country", session.country))
    return lines


def link_for(session: Session, public_base: str | None) -> str | None:
    return INBOX_LINK.format(base=public_base, session_id=session.id) if public_base else None


def build_card(session: Session, project: Project, public_base: str | None, *, note: str | None = None,
               assignee: str | None = None) -> SessionCard:
    title = session.label()
    url = session.metadata.get("url")
    if isinstance(url, str) and url:
        title = f"{title} · {_page_label(url)}"
    lines = card_lines(session)
    if assignee:
        lines.append(("Assigned to", assignee))
    if note:
        lines.append(("Note", note))
    return SessionCard(session=session, title=title, lines=tuple(lines), link=link_for(session, public_base))


def info_text(session: Session, project: Project, public_base: str | None) -> str:
    """The answer to ``/info``."""
    rows = [f"{session.label()} — {project.name}", f"Status: {session.status}",
            f"Started: {iso(session.created_at)}", f"Last activity: {iso(session.last_activity)}",
            f"Messages: {session.last_seq}", f"AI replies: {'on' if session.ai_enabled else 'off'}"]
    rows += [f"{k}: {v}" for k, v in card_lines(session)]
    rows.append(f"Session: {session.id}")
    link = link_for(session, public_base)
    if link:
        rows.append(f"Inbox: {link}")
    return "\n".join(rows)


# --- notice lines -----------------------------------------------------------------------

def operator_author(name: str | None, source: str) -> str:
    return f"{name or 'Operator'} (via {label(source)})"


def event_line(name: str, data: dict[str, Any] | None) -> str:
    """A compact line for a notable custom event: ``checkout_started · plan=pro, total=49``."""
    parts = []
    for key, value in (data or {}).items():
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(f"{key}={shown}")
    line = name + (" · " + ", ".join(parts) if parts else "")
    return line if len(line) <= EVENT_LINE_CHARS else line[:EVENT_LINE_CHARS - 1] + "…"


def from_note(origin_label: str | None) -> str:
    """`` (from Slack)``: where a change was made, when it was made in another app."""
    return f" (from {origin_label})" if origin_label else ""


def edited_line(author: str, text: str) -> str:
    return f"{author} edited a reply: {text}"


def visitor_edited_line(text: str) -> str:
    return f"The visitor edited a message: {text}"


DELETED_TEXT = "(deleted)"  # what a copy the platform will not delete is edited to


def withdrawn_line(author: str) -> str:
    return f"{author} withdrew a reply"


def closed_line(origin_note: str) -> str:
    return "Conversation closed" + origin_note


def reopened_line(origin_note: str, by_visitor: bool) -> str:
    return "Conversation reopened" + (" (the visitor wrote again)" if by_visitor else origin_note)


def ai_changed_line(enabled: bool, origin_note: str) -> str:
    return f"AI replies turned {'on' if enabled else 'off'} for this conversation{origin_note}"


_HANDOFF_WHY = {
    "visitor_asked": "The visitor asked to talk to a person",
    "no_answer": "The AI found nothing in the knowledge base to answer with and told the visitor a person can help",
    "model": "The AI handed this conversation over to a person",
}


def handoff_line(reason: str, detail: str = "") -> str:
    """The AI stepped aside for a person (``session.ai_changed`` with reason ``handoff``)."""
    why = _HANDOFF_WHY.get(reason, "A person is needed here")
    if detail:
        why += f" ({detail})"
    return f"🙋 {why}. The AI is off for this conversation: reply here to answer the visitor."


def identified_line(identity: dict[str, Any]) -> str:
    who = " ".join(x for x in (identity.get("name"), f"<{identity['email']}>" if identity.get("email") else None)
                   if x) or identity.get("id", "")
    verified = " (verified)" if identity.get("verified") else ""
    return f"Visitor identified as {who}{verified}"
