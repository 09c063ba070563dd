"""The blind search index: keyed hashes of normalized words, next to the messages they find.

Message text and identities are encrypted at rest, so the database cannot search them. For
every chat message (and every visitor's name and email) the terms of ``core.search`` are
stored as HMACs under a key derived from the keyring (purpose ``"search"``); a query hashes
its words the same way (under every configured key, so search keeps working while
``rotate-key`` rebuilds the index) and the candidates are decrypted and checked against the
query in memory. The table holds no word, only hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import delete, select

from pocketping.core import search as words_
from pocketping.core.search import Hit
from pocketping.store import direct
from pocketping.store.db import Database, Tx
from pocketping.store.schema import messages, search_terms, sessions

PURPOSE = "search"
# A query reads at most this many index rows (most recent first) before checking candidates.
MAX_CANDIDATE_ROWS = 20_000


def _rows(tx: Tx, session_id: str, message_id: str | None, text: str) -> list[dict[str, Any]]:
    return [{"session_id": session_id, "message_id": message_id, "term": tx.keyring.blind(PURPOSE, term)}
            for term in sorted(words_.index_terms(text))]


def _identity_text(identity: dict[str, Any] | None) -> str:
    if not identity:
        return ""
    return " ".join(str(identity.get(k) or "") for k in ("name", "email"))


INSERT = search_terms.insert()
COLUMNS = ("session_id", "message_id", "term")


async def _insert(tx: Tx, rows: list[dict[str, Any]]) -> None:
    if rows:
        await direct.execute(tx, INSERT, rows, columns=COLUMNS)


def message_rows(tx: Tx, items: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The index rows of new chat messages, given as (session id, message id, plaintext)."""
    rows: list[dict[str, Any]] = []
    for session_id, message_id, text in items:
        rows.extend(_rows(tx, session_id, message_id, text))
    return rows


async def index_messages(tx: Tx, items: Iterable[tuple[str, str, str]]) -> None:
    """Index new chat messages, given as (session id, message id, plaintext)."""
    await _insert(tx, message_rows(tx, items))


async def reindex_message(tx: Tx, session_id: str, message_id: str, text: str | None) -> None:
    """A message's new text (None: withdrawn, it no longer finds anything)."""
    await tx.conn.execute(delete(search_terms).where(search_terms.c.message_id == message_id))
    if text is not None:
        await _insert(tx, _rows(tx, session_id, message_id, text))


async def index_identity(tx: Tx, session_id: str, identity: dict[str, Any] | None) -> None:
    """The visitor's name and email, replacing what the session was found by before."""
    await tx.conn.execute(delete(search_terms).where(search_terms.c.session_id == session_id,
                                                     search_terms.c.message_id.is_(None)))
    await _insert(tx, _rows(tx, session_id, None, _identity_text(identity)))


async def drop_sessions(tx: Tx, session_ids: Sequence[str]) -> None:
    await tx.conn.execute(delete(search_terms).where(search_terms.c.session_id.in_(session_ids)))


async def search(tx: Tx, project_ids: Sequence[str], query: list[str], *, limit: int) -> list[Hit]:
    """Messages and visitors of ``project_ids`` matching every word of ``query`` (normalized
    words), newest first."""
    terms = list(dict.fromkeys(words_.query_term(w) for w in query))
    if not terms or not project_ids:
        return []
    by_hash: dict[str, int] = {}
    for i, term in enumerate(terms):
        for hashed in tx.keyring.blind_all(PURPOSE, term):
            by_hash[hashed] = i
    rows = (await tx.conn.execute(
        select(search_terms.c.session_id, search_terms.c.message_id, search_terms.c.term)
        .join(sessions, sessions.c.id == search_terms.c.session_id)
        .where(sessions.c.project_id.in_(project_ids), search_terms.c.term.in_(by_hash))
        .order_by(search_terms.c.id.desc()).limit(MAX_CANDIDATE_ROWS))).all()
    on_identity: dict[str, set[int]] = {}
    on_message: dict[tuple[str, str], set[int]] = {}
    for session_id, message_id, term in rows:
        target = on_identity.setdefault(session_id, set()) if message_id is None else \
            on_message.setdefault((session_id, message_id), set())
        target.add(by_hash[term])
    everything = set(range(len(terms)))
    session_ids = {sid for sid, _ in on_message} | set(on_identity)
    found = {row["id"]: row for row in (await tx.conn.execute(
        select(sessions.c.id, sessions.c.project_id, sessions.c.identity, sessions.c.last_activity)
        .where(sessions.c.id.in_(session_ids)))).mappings()} if session_ids else {}
    identities = {sid: (orjson.loads(tx.decrypt(row["identity"])) if row["identity"] else {})
                  for sid, row in found.items()}
    hits: list[Hit] = []
    wanted = [mid for (sid, mid), got in on_message.items() if got | on_identity.get(sid, set()) >= everything]
    for sid, got in on_identity.items():
        identity = identities.get(sid) or {}
        if got >= everything and sid in found and words_.matches(query, set(words_.words(_identity_text(identity)))):
            hits.append(Hit(sid, found[sid]["project_id"], None, None, None, _identity_text(identity).strip(),
                            found[sid]["last_activity"], identity.get("name"), identity.get("email")))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in (await tx.conn.execute(select(
                messages.c.id, messages.c.session_id, messages.c.seq, messages.c.sender, messages.c.text,
                messages.c.created_at).where(messages.c.id.in_(chunk), messages.c.deleted_at.is_(None),
                                             messages.c.kind.in_(("message", "note"))))).mappings():
            sid = row["session_id"]
            identity = identities.get(sid) or {}
            text = tx.decrypt(row["text"])
            known = set(words_.words(text)) | set(words_.words(_identity_text(identity)))
            if sid in found and words_.matches(query, known):
                hits.append(Hit(sid, found[sid]["project_id"], row["id"], row["seq"], row["sender"],
                                words_.snippet(text, query), row["created_at"], identity.get("name"),
                                identity.get("email")))
    hits.sort(key=lambda h: (h.created_at, h.message_id or ""), reverse=True)
    return hits[:limit]


async def identity_candidates(tx: Tx, project_ids: Sequence[str], query: list[str]) -> set[str]:
    """Sessions of ``project_ids`` whose visitor's name or email may hold every word of ``query``
    (to be checked on the decrypted identity)."""
    terms = list(dict.fromkeys(words_.query_term(w) for w in query))
    if not terms or not project_ids:
        return set()
    by_hash = {hashed: i for i, term in enumerate(terms) for hashed in tx.keyring.blind_all(PURPOSE, term)}
    rows = (await tx.conn.execute(
        select(search_terms.c.session_id, search_terms.c.term)
        .join(sessions, sessions.c.id == search_terms.c.session_id)
        .where(sessions.c.project_id.in_(project_ids), search_terms.c.message_id.is_(None),
               search_terms.c.term.in_(by_hash)).limit(MAX_CANDIDATE_ROWS))).all()
    got: dict[str, set[int]] = {}
    for session_id, term in rows:
        got.setdefault(session_id, set()).add(by_hash[term])
    return {sid for sid, seen in got.items() if len(seen) == len(terms)}


async def rebuild(db: Database, batch_size: int = 500) -> int:
    """Hash every message and identity again under the current key (``rotate-key``); returns
    the number of messages and identities indexed."""
    done = 0
    last = ""
    while True:
        async with db.transaction() as tx:
            batch = (await tx.conn.execute(
                select(messages.c.id, messages.c.session_id, messages.c.text)
                .where(messages.c.id > last, messages.c.kind.in_(("message", "note")),
                       messages.c.deleted_at.is_(None))
                .order_by(messages.c.id).limit(batch_size))).all()
            if batch:
                await tx.conn.execute(delete(search_terms).where(search_terms.c.message_id.in_([r[0] for r in batch])))
                await index_messages(tx, ((sid, mid, tx.decrypt(text)) for mid, sid, text in batch))
        done += len(batch)
        if len(batch) < batch_size:
            break
        last = batch[-1][0]
    last = ""
    while True:
        async with db.transaction() as tx:
            people = (await tx.conn.execute(
                select(sessions.c.id, sessions.c.identity).where(sessions.c.id > last, sessions.c.identity.is_not(None))
                .order_by(sessions.c.id).limit(batch_size))).all()
            for sid, stored in people:
                await index_identity(tx, sid, orjson.loads(tx.decrypt(stored)))
        done += len(people)
        if len(people) < batch_size:
            break
        last = people[-1][0]
    return done
