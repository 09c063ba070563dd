"""Sessions: connect (create or resume), close, reopen, identify, read receipts, export (erasure:
``pocketping.actions.erasure``)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

from pocketping import ids, tokens
from pocketping.actions.requests import Connected, ConnectRequest, PrechatFirst
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.mail import consent_mode
from pocketping.core.models import Message, Project, Session, iso
from pocketping.core.presence import operators_online as operators_online  # re-exported: presence, inbox
from pocketping.core.rules import check_email, origin_allowed, strip_bidi
from pocketping.core.useragent import parse_user_agent
from pocketping.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from pocketping.groupcommit import GroupCommit
from pocketping.hub import Event
from pocketping.store import mail as mail_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as repo
from pocketping.store.db import Tx

_META_KEYS = {"url": 2000, "referrer": 2000, "title": 300, "language": 35, "timezone": 64, "screen": 32}
NOTICES = {"closed": "Conversation closed", "reopened": "Conversation reopened"}


def clean_metadata(raw: Any, user_agent: str | None) -> dict[str, Any]:
    """Only known keys, strings, bounded; browser/os/device come from the User-Agent header."""
    meta: dict[str, Any] = {}
    if isinstance(raw, dict):
        for key, limit in _META_KEYS.items():
            value = raw.get(key)
            if isinstance(value, str) and value:
                meta[key] = strip_bidi(value)[:limit]
    meta.update(parse_user_agent(user_agent))
    return meta


def awaits_consent(project: Project, session: Session) -> bool:
    """With ``--consent required``: the visitor has not accepted the consent text (yet)."""
    return consent_mode(project.extra) == "required" and session.consent != "accepted"


def check_consented(project: Project, session: Session) -> None:
    """No email (or identity) taken from the widget before the visitor accepted the consent text."""
    if awaits_consent(project, session):
        raise Forbidden("accept the consent text first (a 'consent' frame with accepted: true)",
                        code="consent_required")


def session_event(type_: str, session: Session, **extra: Any) -> Event:
    data = {"session": session.to_api(), **extra}
    return Event(type_, session.project_id, session.id, data=data)


def _with_project(tx: Tx, r: ConnectRequest, by_key: dict[str, Project]) -> ConnectRequest | BaseException:
    """The request with its project (found by public key), its origin checked and what the
    project keeps of the address; or why the page view is refused."""
    if r.project is not None:
        return r
    project = by_key.get(r.public_key)
    if project is None:
        return Unauthorized("unknown public key", code="invalid_key")
    if not origin_allowed(r.origin, project.allowed_origins):
        return Forbidden(f"origin {r.origin!r} is not allowed for this project", code="origin_not_allowed")
    return dataclasses.replace(r, project=project, ip=r.ip if project.store_ip else None,
                               country=((r.country or "")[:8].upper() or None) if project.collect_country else None)


async def _connect_batch(tx: Tx, batch: list[ConnectRequest]) -> list[Connected | BaseException]:
    """Resume or create many sessions at once: one project lookup (by public key), one session
    lookup, one multi-row INSERT, one UPDATE batch."""
    by_key = await project_repo.find_projects_by_public_keys(tx, [r.public_key for r in batch if r.project is None])
    checked = [_with_project(tx, r, by_key) for r in batch]
    requests = [r for r in checked if isinstance(r, ConnectRequest)]
    wanted = [r.claims.session_id for r in requests
              if r.claims is not None and r.project is not None and r.claims.project_id == r.project.id]
    found = await repo.find_sessions(tx, wanted)
    results: list[Connected | BaseException] = []
    created: list[Session] = []
    changed: dict[str, Session] = {}
    for r in requests:
        assert r.project is not None
        claims = r.claims
        session = found.get(claims.session_id) if claims is not None else None
        if (claims is not None and session is not None and session.project_id == r.project.id
                and claims.project_id == r.project.id and session.visitor_id == claims.visitor_id):
            session = changed.get(session.id, session)
            updated = session if awaits_consent(r.project, session) else dataclasses.replace(
                session, metadata={**session.metadata, **r.meta}, ip=r.ip or session.ip,
                country=r.country or session.country)
            if updated != session:
                changed[session.id] = updated
            results.append(Connected(updated, tokens.issue(tx.keyring, r.project.id, session.id,
                                                           session.visitor_id), False, r.project))
            continue
        if r.prechat_first and r.project.extra.get("prechat") == "required":
            results.append(PrechatFirst(r.project))  # no session before the form is filled
            continue
        gated = consent_mode(r.project.extra) == "required"  # nothing collected before consent
        fresh = repo.new_session(tx, id=ids.new_id(ids.SESSION), project_id=r.project.id,
                                 visitor_id=ids.new_id(ids.VISITOR), meta={} if gated else r.meta,
                                 ip=None if gated else r.ip, country=None if gated else r.country)
        created.append(fresh)
        tx.emit(session_event("session.created", fresh))
        results.append(Connected(fresh, tokens.issue(tx.keyring, r.project.id, fresh.id, fresh.visitor_id), True,
                                 r.project))
    await repo.insert_sessions(tx, created)
    await repo.update_metas(tx, list(changed.values()))
    answers = iter(results)
    return [next(answers) if isinstance(r, ConnectRequest) else r for r in checked]


def _connector(svc: Services) -> GroupCommit[ConnectRequest, Connected]:
    if svc.connect_writer is None:
        async def process(requests: list[ConnectRequest]) -> list[Connected | BaseException]:
            async with unit_of_work(svc) as tx:
                return await _connect_batch(tx, requests)

        svc.connect_writer = GroupCommit(process, writers=svc.writers())
    return svc.connect_writer


async def connect_visitor(svc: Services, project: Project, token: object, metadata: Any, *,
                          user_agent: str | None, ip: str | None, country: str | None) -> Connected:
    """Resume the session a valid token names, or start a new visitor with a new session.

    Page views come in bursts; they share transactions (group commit)."""
    # A reply mail's link carries a resume token (signed, expiring) in place of the stored one.
    claims = tokens.read(svc.db.keyring, token) or tokens.read_resume(svc.db.keyring, token,
                                                                     svc.clock.now().timestamp())
    request = ConnectRequest(project=project, claims=claims,
                       meta=clean_metadata(metadata, user_agent), ip=ip if project.store_ip else None,
                       country=((country or "")[:8].upper() or None) if project.collect_country else None)
    return await _connector(svc).run(request)


async def open_widget(svc: Services, public_key: object, origin: str | None, token: object, metadata: Any, *,
                      user_agent: str | None, ip: str | None, country: str | None,
                      prechat_first: bool = False) -> Connected:
    """A widget's page view: the project found by its public key and the origin checked in the
    page view's own (shared) transaction; ``Connected.project`` is the project. Refused with
    ``invalid_key`` (Unauthorized) or ``origin_not_allowed`` (Forbidden). With ``prechat_first``,
    a new visitor of a project requiring the pre-chat form gets ``PrechatFirst`` and no session."""
    if not isinstance(public_key, str) or not public_key.startswith("pk_") or len(public_key) > 64:
        raise Unauthorized("unknown public key", code="invalid_key")
    claims = tokens.read(svc.db.keyring, token) or tokens.read_resume(svc.db.keyring, token,
                                                                      svc.clock.now().timestamp())
    request = ConnectRequest(project=None, claims=claims,
                             meta=clean_metadata(metadata, user_agent), ip=ip, country=country,
                             public_key=public_key, origin=origin, prechat_first=prechat_first)
    return await _connector(svc).run(request)


async def add_notice(tx: Tx, session: Session, code: str) -> Message:
    seq = await repo.next_seq(tx, session.id)
    notice = await repo.insert_item(tx, id=ids.new_id(ids.MESSAGE), session_id=session.id, seq=seq, kind="notice",
                                    sender="system", source="system", name=code, text=NOTICES[code])
    tx.emit(Event("notice.created", session.project_id, session.id,
                  data={"message": notice.to_api(), "session": session.to_api()},
                  widget_frame={"type": "message", "message": notice.to_api()}))
    return notice


async def set_status(tx: Tx, session: Session, status: str, *, origin: str | None = None) -> Session:
    """Close or reopen inside an open transaction; a no-op if already so."""
    if session.status == status:
        return session
    closed_at = tx.now if status == "closed" else None
    await repo.update_session(tx, session.id, status=status, closed_at=closed_at, last_activity=tx.now,
                              waiting_since=None)
    session = await repo.get_session(tx, session.project_id, session.id)
    await add_notice(tx, session, "closed" if status == "closed" else "reopened")
    session = await repo.get_session(tx, session.project_id, session.id)  # with the notice's seq
    event = session_event("session.closed" if status == "closed" else "session.reopened", session)
    tx.emit(Event(event.type, event.project_id, event.session_id, data=event.data,
                  widget_frame={"type": "session", "status": status}, origin=origin))
    return session


async def close_session(svc: Services, project_id: str, session_id: str, *, origin: str | None = None) -> Session:
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        return await set_status(tx, session, "closed", origin=origin)


async def reopen_session(svc: Services, project_id: str, session_id: str, *, origin: str | None = None) -> Session:
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        return await set_status(tx, session, "active", origin=origin)


async def get_session(svc: Services, project_id: str, session_id: str) -> Session:
    async with svc.db.read() as tx:
        return await repo.get_session(tx, project_id, session_id)


def user_hash(identity_secret: str, user_id: str) -> str:
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def check_identity(user_id: Any, email: Any, name: Any, traits: dict[str, Any]) -> dict[str, Any]:
    """The identity to store, or InvalidInput (``invalid_identity``) saying what is wrong."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > 200:
        raise InvalidInput("identify needs an 'id' of 1-200 characters", code="invalid_identity")
    for label, value in (("email", email), ("name", name)):
        if value is not None and (not isinstance(value, str) or len(value) > 320):
            raise InvalidInput(f"identity {label} must be text of at most 320 characters", code="invalid_identity")
    if len(str(traits)) > 4096:
        raise InvalidInput("identity traits are limited to 4 KB", code="invalid_identity")
    return {"id": strip_bidi(user_id), "email": strip_bidi(email) if email else email,
            "name": strip_bidi(name) if name else name, "traits": traits}


async def _store_identity(tx: Tx, session: Session, identity: dict[str, Any]) -> Session:
    await repo.update_session(tx, session.id, identity=identity)
    session = await repo.get_session(tx, session.project_id, session.id)
    tx.emit(session_event("visitor.identified", session))
    return session


async def identify(svc: Services, project: Project, session_id: str, payload: dict[str, Any]) -> Session:
    """Attach a known user to the session. With an identity secret, ``userHash`` must match."""
    traits = {k: v for k, v in payload.items() if k not in ("id", "email", "name", "userHash", "type")}
    identity = check_identity(payload.get("id"), payload.get("email"), payload.get("name"), traits)
    user_id = identity["id"]
    async with unit_of_work(svc) as tx:
        secret = await project_repo.identity_secret(tx, project.id)
        verified = False
        if secret is not None:
            given = payload.get("userHash")
            if not isinstance(given, str) or not hmac.compare_digest(given.lower(), user_hash(secret, user_id)):
                raise Forbidden("identity could not be verified: userHash must be HMAC-SHA256(identity secret, id)",
                                code="identity_rejected")
            verified = True
        session = await repo.get_session(tx, project.id, session_id, for_update=True)
        check_consented(project, session)
        return await _store_identity(tx, session, {**identity, "verified": verified})


async def identify_by_backend(svc: Services, project_id: str, session_id: str, *, user_id: str,
                              email: str | None = None, name: str | None = None,
                              traits: dict[str, Any] | None = None) -> Session:
    """The site's backend (it holds the secret key) attaches one of its users to a session:
    verified, no ``userHash`` needed. Replaces the identity the session had."""
    identity = check_identity(user_id, email, name, dict(traits or {}))
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        return await _store_identity(tx, session, {**identity, "verified": True})


async def leave_contact(svc: Services, project: Project, session_id: str, email: Any) -> Session:
    """The offline form: the visitor leaves an email to be answered at. It goes into the session's
    identity (encrypted at rest); an identity the site's backend verified keeps its own email."""
    email = check_email(email)
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project.id, session_id, for_update=True)
        check_consented(project, session)
        current = session.identity
        if current is None:
            identity = {"id": session.visitor_id, "email": email, "name": None, "traits": {}, "verified": False}
        else:
            identity = {**current.to_api(), "email": current.email if current.verified and current.email else email}
        await repo.update_session(tx, session_id, identity=identity)
        await mail_repo.record_consent(tx, session_id, project.id, project.extra.get("consent_text"))
        session = await repo.get_session(tx, project.id, session_id)
        tx.emit(session_event("visitor.identified", session, contact=True))
        return session


async def mark_read(svc: Services, session: Session, *, by: str, seq: int) -> bool:
    """Raise the visitor's or the operators' read mark; tells the other side."""
    return await mark_read_ids(svc, session.project_id, session.id, by=by, seq=seq)


async def mark_read_ids(svc: Services, project_id: str, session_id: str, *, by: str, seq: int) -> bool:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidInput("seq must be a non-negative integer", code="invalid_seq")
    column = "visitor_read_seq" if by == "visitor" else "operator_read_seq"
    async with unit_of_work(svc) as tx:
        changed = await repo.raise_read_seq(tx, session_id, column, seq)
        if changed:
            tx.emit(Event("read", project_id, session_id, data={"by": by, "seq": seq},
                          widget_frame={"type": "read", "by": by, "seq": seq}))
    return changed


async def export_visitor(svc: Services, project_id: str, visitor_id: str) -> dict[str, Any]:
    async with svc.db.read() as tx:
        found = await repo.visitor_sessions(tx, project_id, visitor_id)
        if not found:
            raise NotFound(f"visitor {visitor_id} not found", code="visitor_not_found")
        mail = await mail_repo.find_recipients(tx, [s.id for s in found])
        out = []
        for session in found:
            items: list[dict[str, Any]] = []
            after = 0
            while True:
                page = await repo.list_items(tx, session.id, after_seq=after, limit=500)
                items.extend(m.to_api() for m in page)
                if len(page) < 500:
                    break
                after = page[-1].seq
            recipient = mail.get(session.id)
            consent = ({"at": iso(recipient.consent_at), "text": recipient.consent_text}
                       if recipient is not None and recipient.consent_at is not None else None)
            answer = ({"choice": session.consent, "at": iso(session.consent_at)}
                      if session.consent is not None and session.consent_at is not None else None)
            out.append({"session": session.to_api(), "messages": items, "consent": consent,
                        "privacyConsent": answer})
    return {"visitorId": visitor_id, "exportedAt": iso(svc.clock.now()), "sessions": out}


def presence_frame(project: Project, svc: Services) -> dict[str, Any]:
    return {"type": "presence", "online": operators_online(project, svc.clock.now().timestamp(),
                                                            svc.settings.presence_timeout_seconds)}



async def set_ai_enabled(svc: Services, project_id: str, session_id: str, enabled: bool, *,
                         origin: str | None = None) -> Session:
    """Turn the AI fallback on or off for one session (``/ai on`` and ``/ai off`` in a thread,
    the inbox toggle). Turning it off also cancels a pending AI answer."""
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        values: dict[str, Any] = {"ai_enabled": enabled}
        if not enabled:
            values["ai_due_at"] = None
        await repo.update_session(tx, session.id, **values)
        session = await repo.get_session(tx, project_id, session_id)
        tx.emit(Event("session.ai_changed", project_id, session_id,
                      data={"session": session.to_api(), "aiEnabled": enabled}, origin=origin))
        return session
