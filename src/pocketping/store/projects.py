"""Projects, their keys and settings; the configuration version running servers poll."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import RowMapping

from pocketping.core.models import Project, WidgetSettings
from pocketping.errors import NotFound
from pocketping.hub import Event
from pocketping.ids import random_token
from pocketping.store.db import Tx
from pocketping.store.schema import projects, server_state

_WIDGET_KEYS = {f.name for f in fields(WidgetSettings)}


def _project(row: RowMapping) -> Project:
    settings: dict[str, Any] = dict(row["settings"] or {})
    widget = WidgetSettings(**{k: v for k, v in settings.get("widget", {}).items() if k in _WIDGET_KEYS})
    return Project(
        id=row["id"],
        name=row["name"],
        public_key=row["public_key"],
        secret_key_hint=row["secret_key_hint"],
        allowed_origins=tuple(row["allowed_origins"] or ()),
        widget=widget,
        collect_country=bool(settings.get("collect_country", False)),
        store_ip=bool(settings.get("store_ip", False)),
        notify_events=tuple(settings.get("notify_events", ())),
        has_identity_secret=row["identity_secret"] is not None,
        is_demo=bool(row["is_demo"]),
        operator_status=row["operator_status"],
        operator_active_at=row["operator_active_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        extra={k: v for k, v in settings.items() if k not in ("widget", "collect_country", "store_ip",
                                                            "notify_events")},
    )


async def insert_project(tx: Tx, *, id: str, name: str, public_key: str, secret_key_hash: str,
                         secret_key_hint: str, allowed_origins: list[str], settings: dict[str, Any],
                         is_demo: bool = False) -> Project:
    await tx.conn.execute(projects.insert().values(
        id=id, name=name, public_key=public_key, secret_key_hash=secret_key_hash,
        secret_key_hint=secret_key_hint, allowed_origins=allowed_origins, settings=settings,
        identity_secret=None, is_demo=is_demo, operator_status="auto", created_at=tx.now, updated_at=tx.now,
    ))
    await bump_config_version(tx)
    return await get_project(tx, id)


async def find_project(tx: Tx, project_id: str) -> Project | None:
    row = (await tx.conn.execute(select(projects).where(projects.c.id == project_id))).mappings().first()
    return _project(row) if row else None


async def get_project(tx: Tx, project_id: str) -> Project:
    project = await find_project(tx, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    return project


async def find_project_by_public_key(tx: Tx, public_key: str) -> Project | None:
    row = (await tx.conn.execute(select(projects).where(projects.c.public_key == public_key))).mappings().first()
    return _project(row) if row else None


_BY_PUBLIC_KEYS = select(projects).where(projects.c.public_key.in_(bindparam("keys", expanding=True)))


async def find_projects_by_public_keys(tx: Tx, public_keys: list[str]) -> dict[str, Project]:
    if not public_keys:
        return {}
    rows = (await tx.conn.execute(_BY_PUBLIC_KEYS, {"keys": sorted(set(public_keys))})).mappings()
    return {row["public_key"]: _project(row) for row in rows}


async def find_project_by_secret_hash(tx: Tx, secret_hash: str) -> Project | None:
    row = (await tx.conn.execute(
        select(projects).where(projects.c.secret_key_hash == secret_hash))).mappings().first()
    return _project(row) if row else None


async def find_demo_project(tx: Tx) -> Project | None:
    row = (await tx.conn.execute(
        select(projects).where(projects.c.is_demo.is_(True)).order_by(projects.c.created_at))).mappings().first()
    return _project(row) if row else None


async def list_projects(tx: Tx) -> list[Project]:
    rows = (await tx.conn.execute(select(projects).order_by(projects.c.created_at, projects.c.id))).mappings()
    return [_project(r) for r in rows]


async def raw_settings(tx: Tx, project_id: str) -> dict[str, Any]:
    value = (await tx.conn.execute(select(projects.c.settings).where(projects.c.id == project_id))).scalar()
    if value is None:
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    return dict(value)


async def update_project_row(tx: Tx, project_id: str, **values: Any) -> None:
    values["updated_at"] = tx.now
    result = await tx.conn.execute(update(projects).where(projects.c.id == project_id).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    await bump_config_version(tx)


async def identity_secret(tx: Tx, project_id: str) -> str | None:
    value = (await tx.conn.execute(select(projects.c.identity_secret).where(projects.c.id == project_id))).scalar()
    return tx.decrypt(value) if value else None


async def set_operator_presence(tx: Tx, project_id: str, *, status: str | None = None,
                                active: bool = False) -> None:
    values: dict[str, Any] = {}
    if status is not None:
        values["operator_status"] = status
    if active:
        values["operator_active_at"] = tx.now
    if values:
        await tx.conn.execute(update(projects).where(projects.c.id == project_id).values(**values))


# --- configuration version -------------------------------------------------------------

CONFIG_VERSION = "config_version"


async def bump_config_version(tx: Tx) -> None:
    """Tell running servers that projects, bridges or webhooks changed.

    The value is a fresh random token, so concurrent bumps can never cancel each other out.
    """
    token = random_token(16)
    result = await tx.conn.execute(
        update(server_state).where(server_state.c.key == CONFIG_VERSION).values(value=token))
    if result.rowcount == 0:
        await tx.conn.execute(server_state.insert().values(key=CONFIG_VERSION, value=token))
    # With several nodes this reaches the others through Redis at once (the poll is the fallback).
    tx.emit(Event("config.changed", ""))


async def config_version(tx: Tx) -> str:
    value = (await tx.conn.execute(select(server_state.c.value).where(server_state.c.key == CONFIG_VERSION))).scalar()
    return str(value or "")
