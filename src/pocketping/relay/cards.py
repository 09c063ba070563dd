"""The session card that opens every thread, and the ``/info`` answer."""

from __future__ import annotations

from urllib.parse import urlsplit

from pocketping.bridges.base import SessionCard
from pocketping.core.models import Project, Session, iso

# Where a conversation opens in the web inbox (its page reads the session id from the hash).
INBOX_LINK = "{base}/inbox#{session_id}"


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
    for key, label in (("url", "Page"), ("title", "Page title"), ("referrer", "Referrer")):
        if meta.get(key):
            lines.append((label, str(meta[key])))
    device = " · ".join(str(meta[k]) for k in ("browser", "os", "device") if meta.get(k))
    if device:
        lines.append(("Browser", device))
    for key, label in (("language", "Language"), ("timezone", "Timezone")):
        if meta.get(key):
            lines.append((label, str(meta[key])))
    if session.country:
        lines.append(("Country", session.country))
    return lines


def link_for(session: Session, public_base: str | None) -> str | None:
    return INBOX_LINK.format(base=public_base, session_id=session.id) if public_base else None


def build_card(session: Session, project: Project, public_base: str | None, *, note: str | None = None) -> SessionCard:
    title = session.label()
    url = session.metadata.get("url")
    if isinstance(url, str) and url:
        title = f"{title} · {_page_label(url)}"
    lines = card_lines(session)
    if note:
        lines.append(("Note", note))
    return SessionCard(session=session, title=title, lines=tuple(lines), link=link_for(session, public_base))


def info_text(session: Session, project: Project, public_base: str | None) -> str:
    rows = [f"{session.label()} — {project.name}", f"Status: {session.status}",
            f"Started: {iso(session.created_at)}", f"Last activity: {iso(session.last_activity)}",
            f"Messages: {session.last_seq}", f"AI replies: {'on' if session.ai_enabled else 'off'}"]
    rows += [f"{k}: {v}" for k, v in card_lines(session)]
    rows.append(f"Session: {session.id}")
    link = link_for(session, public_base)
    if link:
        rows.append(f"Inbox: {link}")
    return "\n".join(rows)
