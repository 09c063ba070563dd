"""The `bounded` migration fills the inbox counters of the sessions already stored."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import column, insert, select, table

from pocketping.store.engine import create_engine
from pocketping.store.migrate import alembic_config, upgrade
from pocketping.store.schema import messages, projects, sessions


def _to_privacy(sync_conn) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "privacy")


async def test_existing_sessions_get_their_last_message_and_unread_count(fresh_db):
    engine = create_engine(fresh_db.url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_to_privacy)
        old = [c for c in sessions.c if c.name not in ("last_message_seq", "operator_unread")]
        async with engine.begin() as conn:
            await conn.execute(insert(projects).values(
                id="proj_m", name="M", public_key="pk_m", secret_key_hash="h", secret_key_hint="x",
                allowed_origins="[]", settings="{}", is_demo=False, operator_status="auto",
                created_at=now, updated_at=now))
            base = {"project_id": "proj_m", "status": "active", "meta": "{}", "created_at": now,
                    "last_activity": now, "visitor_read_seq": 0, "ai_enabled": True, "ai_reply_count": 0}
            before = table("sessions", *[column(c.name, c.type) for c in old])  # as "privacy" had it
            await conn.execute(insert(before), [
                {**base, "id": "sess_a", "visitor_id": "v_a", "last_seq": 5, "operator_read_seq": 2},
                {**base, "id": "sess_b", "visitor_id": "v_b", "last_seq": 0, "operator_read_seq": 0}])
            rows = [("visitor", "message"), ("visitor", "message"), ("operator", "message"),
                    ("visitor", "message"), ("system", "notice")]
            await conn.execute(insert(messages), [
                {"id": f"msg_{i}", "session_id": "sess_a", "seq": i, "kind": kind, "sender": sender,
                 "source": "widget", "text": "x", "created_at": now}
                for i, (sender, kind) in enumerate(rows, start=1)])
        await upgrade(engine)
        async with engine.connect() as conn:
            got = {r.id: (r.last_message_seq, r.operator_unread) for r in await conn.execute(
                select(sessions.c.id, sessions.c.last_message_seq, sessions.c.operator_unread))}
        # sess_a: the last chat message is seq 4 (5 is a notice); visitor messages after read seq 2: one (4).
        assert got == {"sess_a": (4, 1), "sess_b": (0, 0)}
    finally:
        await engine.dispose()
