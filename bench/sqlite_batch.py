"""What one group-committed batch of visitor messages costs SQLite alone, statement by
statement, without the server around it: the same tables (the schema's metadata), the same
engine settings (WAL, ``synchronous=FULL``, foreign keys on) and the statements a batch runs
(the session lock read, the seq update, the message rows, their search terms, the event
counter and the event log), with variants that leave one part out to show its share.

    python -m bench.sqlite_batch [VARIANT ...]

Variants (comma-joined): ``base``; ``noterms`` (no search-term rows); ``noidx`` (the search
terms without their ``session_id`` and ``message_id`` indexes); ``noevents`` (no event log);
``nofk`` (foreign keys off); ``seqids`` (ids that grow with time instead of random ones).
Prints the database thread's CPU and the wall time per message, 300 batches of 24 messages
over 50 sessions, 5 terms per message (the bench's "bench 12-345").
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from pocketping.store.schema import metadata

NOW = "2026-12-04 00:00:00.000000"
_counter = itertools.count(1)


def _id(prefix: str, sequential: bool) -> str:
    tail = "".join(random.choices(string.ascii_letters + string.digits, k=12 if sequential else 20))
    return f"{prefix}_{next(_counter):08d}{tail}" if sequential else f"{prefix}_{tail}"


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(n)).decode()


def _connect(path: Path, variant: set[str]) -> sqlite3.Connection:
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("PRAGMA foreign_keys=" + ("OFF" if "nofk" in variant else "ON"))
    if "noidx" in variant:
        c.execute("DROP INDEX ix_search_terms_session_id")
        c.execute("DROP INDEX ix_search_terms_message_id")
    return c


def _insert(c: sqlite3.Connection, table: str, row: dict[str, object]) -> None:
    """A row with the given values and a placeholder in every other NOT NULL column."""
    values = dict(row)
    for _cid, name, type_, notnull, default, _pk in c.execute(f"PRAGMA table_info({table})"):
        if name not in values and notnull and default is None:
            kind = type_.upper()
            values[name] = 0 if ("INT" in kind or "BOOL" in kind) else (NOW if ("DATE" in kind or "TIME" in kind)
                                                                        else "x")
    names = ",".join(values)
    c.execute(f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(values))})", list(values.values()))


def run(variant: set[str], batches: int = 300, per_batch: int = 24, sessions: int = 50,
        event_bytes: int = 900) -> tuple[float, float]:
    """(database CPU µs, wall µs) per message."""
    seq_ids = "seqids" in variant
    with tempfile.TemporaryDirectory() as tmp:
        c = _connect(Path(tmp) / "batch.sqlite", variant)
        project = _id("proj", seq_ids)
        _insert(c, "projects", {"id": project, "public_key": "pk", "secret_key_hash": "h"})
        sids = [_id("sess", seq_ids) for _ in range(sessions)]
        for sid in sids:
            _insert(c, "sessions", {"id": sid, "visitor_id": sid, "project_id": project, "last_seq": 0,
                                    "status": "active"})
        seqs = dict.fromkeys(sids, 0)
        events = 0
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for _ in range(batches):
            c.execute("BEGIN IMMEDIATE")
            batch = random.sample(sids, per_batch)
            c.execute(f"SELECT * FROM sessions WHERE id IN ({','.join('?' * per_batch)})", batch).fetchall()
            c.executemany("UPDATE sessions SET last_seq = ?, last_activity = ?, last_message_seq = ?, "
                          "operator_unread = ? WHERE id = ?",
                          [(seqs[s] + 1, NOW, seqs[s] + 1, 1, s) for s in batch])
            message_rows, term_rows = [], []
            for sid in batch:
                seqs[sid] += 1
                mid = _id("msg", seq_ids)
                message_rows.append((mid, sid, seqs[sid], "message", "visitor", "widget", _b64(60), mid[-12:], NOW))
                if "noterms" not in variant:
                    term_rows += [(sid, mid, _b64(16)[:22]) for _ in range(5)]
            c.executemany("INSERT INTO messages (id, session_id, seq, kind, sender, source, text, client_id, "
                          "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", message_rows)
            if term_rows:
                c.executemany("INSERT INTO search_terms (session_id, message_id, term) VALUES (?, ?, ?)", term_rows)
            if "noevents" not in variant:
                c.execute("INSERT INTO event_counters (project_id, last_seq) VALUES (?, ?) ON CONFLICT (project_id) "
                          "DO UPDATE SET last_seq = last_seq + ? RETURNING last_seq",
                          (project, per_batch, per_batch)).fetchall()
                c.executemany("INSERT INTO event_log (event_id, project_id, seq, session_id, type, payload, "
                              "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              [(_id("evt", seq_ids), project, events + i + 1, sid, "message.created",
                                _b64(event_bytes), NOW) for i, sid in enumerate(batch)])
                events += per_batch
            c.execute("COMMIT")
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        c.close()
    n = batches * per_batch
    return cpu / n * 1e6, wall / n * 1e6


def main() -> None:
    for name in sys.argv[1:] or ["base", "noterms", "noidx", "noevents", "nofk", "seqids"]:
        cpu, wall = run(set(name.split(",")))
        print(f"{name:24s} database CPU {cpu:6.1f} µs per message, wall {wall:6.1f} µs", flush=True)


if __name__ == "__main__":
    main()
