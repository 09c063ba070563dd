"""Operators, their project grants, their inbox sign-ins and failed sign-in attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import RowMapping

from pocketping.core.operators import Operator
from pocketping.store.db import Tx
from pocketping.store.schema import inbox_logins, login_failures, operator_projects, operators, projects, sessions


def _operator(row: RowMapping, project_ids: list[str]) -> Operator:
    return Operator(id=row["id"], email=row["email"], name=row["name"], is_admin=bool(row["is_admin"]),
                    project_ids=tuple(sorted(project_ids)), created_at=row["created_at"])


async def _grants(tx: Tx, operator_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in operator_ids}
    if operator_ids:
        rows = await tx.conn.execute(select(operator_projects).where(
            operator_projects.c.operator_id.in_(operator_ids)))
        for row in rows.mappings():
            found[row["operator_id"]].append(row["project_id"])
    return found


async def insert_operator(tx: Tx, *, id: str, email: str, name: str | None, password_hash: str, is_admin: bool,
                          project_ids: list[str]) -> Operator:
    await tx.conn.execute(operators.insert().values(id=id, email=email, name=name, password_hash=password_hash,
                                                    is_admin=is_admin, created_at=tx.now))
    for project_id in project_ids:
        await tx.conn.execute(operator_projects.insert().values(operator_id=id, project_id=project_id))
    operator = await find_operator(tx, id)
    assert operator is not None
    return operator


async def find_operator(tx: Tx, operator_id: str) -> Operator | None:
    row = (await tx.conn.execute(select(operators).where(operators.c.id == operator_id))).mappings().first()
    if row is None:
        return None
    return _operator(row, (await _grants(tx, [row["id"]]))[row["id"]])


async def find_operator_by_email(tx: Tx, email: str) -> tuple[Operator, str] | None:
    """The operator and its password hash."""
    row = (await tx.conn.execute(select(operators).where(operators.c.email == email))).mappings().first()
    if row is None:
        return None
    return _operator(row, (await _grants(tx, [row["id"]]))[row["id"]]), str(row["password_hash"])


async def list_operators(tx: Tx) -> list[Operator]:
    rows = list((await tx.conn.execute(select(operators).order_by(operators.c.email))).mappings())
    grants = await _grants(tx, [r["id"] for r in rows])
    return [_operator(r, grants[r["id"]]) for r in rows]


async def delete_operator(tx: Tx, operator_id: str) -> None:
    await tx.conn.execute(update(sessions).where(sessions.c.assignee_id == operator_id).values(assignee_id=None))
    await tx.conn.execute(delete(inbox_logins).where(inbox_logins.c.operator_id == operator_id))
    await tx.conn.execute(delete(operator_projects).where(operator_projects.c.operator_id == operator_id))
    await tx.conn.execute(delete(operators).where(operators.c.id == operator_id))


async def set_password_hash(tx: Tx, operator_id: str, password_hash: str) -> None:
    await tx.conn.execute(update(operators).where(operators.c.id == operator_id)
                          .values(password_hash=password_hash))


async def reachable_project_ids(tx: Tx, operator: Operator) -> tuple[str, ...]:
    """The projects an operator reaches now: every project for an admin."""
    if not operator.is_admin:
        return operator.project_ids
    rows = await tx.conn.execute(select(projects.c.id).order_by(projects.c.id))
    return tuple(r[0] for r in rows)


async def existing_project_ids(tx: Tx, project_ids: list[str]) -> set[str]:
    if not project_ids:
        return set()
    rows = await tx.conn.execute(select(projects.c.id).where(projects.c.id.in_(project_ids)))
    return {r[0] for r in rows}


# --- sign-ins ------------------------------------------------------------------------------

async def insert_login(tx: Tx, *, id: str, operator_id: str, expires_at: datetime) -> None:
    await tx.conn.execute(inbox_logins.insert().values(id=id, operator_id=operator_id, created_at=tx.now,
                                                       last_seen_at=tx.now, expires_at=expires_at))


async def find_login(tx: Tx, login_id: str) -> RowMapping | None:
    return (await tx.conn.execute(select(inbox_logins).where(inbox_logins.c.id == login_id))).mappings().first()


async def touch_login(tx: Tx, login_id: str, expires_at: datetime) -> None:
    await tx.conn.execute(update(inbox_logins).where(inbox_logins.c.id == login_id)
                          .values(last_seen_at=tx.now, expires_at=expires_at))


async def delete_login(tx: Tx, login_id: str) -> None:
    await tx.conn.execute(delete(inbox_logins).where(inbox_logins.c.id == login_id))


async def delete_operator_logins(tx: Tx, operator_id: str) -> int:
    result = await tx.conn.execute(delete(inbox_logins).where(inbox_logins.c.operator_id == operator_id))
    return int(result.rowcount or 0)


async def delete_expired_logins(tx: Tx) -> None:
    await tx.conn.execute(delete(inbox_logins).where(inbox_logins.c.expires_at < tx.now))


async def count_logins(tx: Tx, operator_id: str) -> int:
    return int((await tx.conn.execute(select(func.count()).select_from(inbox_logins).where(
        inbox_logins.c.operator_id == operator_id, inbox_logins.c.expires_at >= tx.now))).scalar_one())


# --- failed attempts -----------------------------------------------------------------------

async def record_failure(tx: Tx, key: str) -> None:
    await tx.conn.execute(login_failures.insert().values(key=key, created_at=tx.now))


async def failures_since(tx: Tx, key: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures ``key`` had since ``since``, and the oldest of them."""
    row = (await tx.conn.execute(select(func.count(), func.min(login_failures.c.created_at)).where(
        login_failures.c.key == key, login_failures.c.created_at >= since))).first()
    if row is None or not row[0]:
        return 0, None
    oldest = row[1]
    if oldest is not None and oldest.tzinfo is None:  # aggregates bypass the column type on some drivers
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return int(row[0]), oldest


async def clear_failures(tx: Tx, key: str) -> None:
    await tx.conn.execute(delete(login_failures).where(login_failures.c.key == key))


async def prune_failures(tx: Tx, before: datetime) -> None:
    await tx.conn.execute(delete(login_failures).where(login_failures.c.created_at < before))


# --- mail when nobody is online -----------------------------------------------------------------

async def set_notify(tx: Tx, operator_id: str, **values: Any) -> None:
    await tx.conn.execute(update(operators).where(operators.c.id == operator_id).values(**values))


async def notify_settings(tx: Tx, operator_id: str) -> tuple[str | None, int | None]:
    row = (await tx.conn.execute(select(operators.c.notify, operators.c.notify_after)
                                 .where(operators.c.id == operator_id))).first()
    return (row[0], row[1]) if row else (None, None)


async def notify_targets(tx: Tx, project_id: str) -> list[tuple[str, int | None]]:
    """(operator id, seconds) of every operator mailed about this project when nobody is online:
    those granted the project, and admins (they reach every project)."""
    granted = select(operator_projects.c.operator_id).where(operator_projects.c.project_id == project_id)
    rows = await tx.conn.execute(select(operators.c.id, operators.c.notify_after).where(
        operators.c.notify == "email", (operators.c.is_admin.is_(True)) | operators.c.id.in_(granted))
        .order_by(operators.c.id))
    return [(r[0], r[1]) for r in rows]
