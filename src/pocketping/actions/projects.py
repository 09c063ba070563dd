"""Projects: create, update, rotate the secret key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pocketping import ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.erasure import check_retention_days
from pocketping.core.hours import (
    check_away_message,
    check_closed_on,
    check_consent_text,
    check_hours,
    check_timezone,
)
from pocketping.core.mail import check_consent, check_email_delay, check_on_off, check_prechat
from pocketping.core.models import Project
from pocketping.core.rules import check_event, check_widget_setting, normalize_origin, strip_bidi
from pocketping.crypto import sha256_hex
from pocketping.errors import InvalidInput
from pocketping.files.sniff import check_patterns
from pocketping.store import projects as repo

log = logging.getLogger(__name__)

WIDGET_FIELDS = ("primary_color", "operator_name", "welcome_message", "position", "locale", "offline_form",
                 "ratings")


def _clean_name(name: str) -> str:
    name = strip_bidi(name).strip()
    if not name or len(name) > 200:
        raise InvalidInput("project name must be 1-200 characters", code="invalid_name")
    return name


def _clean_origins(origins: list[str] | tuple[str, ...]) -> list[str]:
    seen: list[str] = []
    for origin in origins:
        value = normalize_origin(origin)
        if value not in seen:
            seen.append(value)
    return seen


_HOURS_CHECKS: dict[str, Callable[[Any], Any]] = {
    "hours": check_hours, "timezone": check_timezone, "closed_on": check_closed_on,
    "away_message": check_away_message, "prechat": check_prechat, "consent_text": check_consent_text,
    "consent": check_consent,
}


def _clean_settings(settings: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "notify_events":
            names = [check_event(name, {})[0] for name in value]
            clean[key] = list(dict.fromkeys(names))
        elif key in ("collect_country", "store_ip"):
            clean[key] = bool(value)
        elif key == "upload_types":
            try:
                clean[key] = check_patterns(value)  # [] falls back to the default list
            except ValueError as exc:
                raise InvalidInput(f"--upload-types: {exc}", code="invalid_upload_types", field="upload_types") from exc
        elif key == "email_delay":
            clean[key] = check_email_delay(value)
        elif key == "retention_days":
            clean[key] = check_retention_days(value)
        elif key == "email_replies":
            clean[key] = check_on_off(value, "--email-replies")
        elif key in _HOURS_CHECKS:
            clean[key] = _HOURS_CHECKS[key](value) if value not in ("", None) else None
        else:
            clean[key] = value
    return clean


async def create_project(svc: Services, name: str, origins: list[str] | tuple[str, ...] = (), *,
                         is_demo: bool = False, widget: dict[str, Any] | None = None) -> tuple[Project, str]:
    """Create a project; returns it with its secret key (shown once, stored only as a hash)."""
    secret = ids.new_secret_key()
    widget_settings = {k: check_widget_setting(k, v) for k, v in (widget or {}).items()}
    async with unit_of_work(svc) as tx:
        project = await repo.insert_project(
            tx, id=ids.new_id(ids.PROJECT), name=_clean_name(name), public_key=ids.new_public_key(),
            secret_key_hash=sha256_hex(secret), secret_key_hint=secret[-4:], allowed_origins=_clean_origins(origins),
            settings={"widget": widget_settings}, is_demo=is_demo,
        )
    if not project.allowed_origins:
        log.warning("project %s accepts the widget from any origin; restrict it with --origin", project.id)
    return project, secret


async def update_project(svc: Services, project_id: str, *, name: str | None = None,
                         origins: list[str] | None = None, widget: dict[str, Any] | None = None,
                         settings: dict[str, Any] | None = None,
                         identity_secret: str | None = None, clear_identity_secret: bool = False) -> Project:
    """Change a project. ``widget`` holds widget settings, ``settings`` other project options
    (``notify_events``, ``collect_country``, ``store_ip`` ...)."""
    async with unit_of_work(svc) as tx:
        current = await repo.raw_settings(tx, project_id)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _clean_name(name)
        if origins is not None:
            values["allowed_origins"] = _clean_origins(origins)
        if widget or settings:
            merged = dict(current)
            merged_widget = dict(merged.get("widget", {}))
            for key, value in (widget or {}).items():
                if key not in WIDGET_FIELDS:
                    raise InvalidInput(f"unknown widget setting {key!r}", code="invalid_setting")
                merged_widget[key] = check_widget_setting(key, value)
            merged["widget"] = merged_widget
            merged.update(_clean_settings(settings or {}))
            values["settings"] = merged
        if identity_secret is not None:
            if len(identity_secret) < 16:
                raise InvalidInput("the identity secret must be at least 16 characters", code="invalid_setting")
            values["identity_secret"] = tx.encrypt(identity_secret)
        elif clear_identity_secret:
            values["identity_secret"] = None
        await repo.update_project_row(tx, project_id, **values)
        return await repo.get_project(tx, project_id)


async def rotate_secret(svc: Services, project_id: str) -> tuple[Project, str]:
    secret = ids.new_secret_key()
    async with unit_of_work(svc) as tx:
        await repo.update_project_row(tx, project_id, secret_key_hash=sha256_hex(secret), secret_key_hint=secret[-4:])
        return await repo.get_project(tx, project_id), secret


async def get_project(svc: Services, project_id: str) -> Project:
    async with svc.db.read() as tx:
        return await repo.get_project(tx, project_id)


async def list_projects(svc: Services) -> list[Project]:
    async with svc.db.read() as tx:
        return await repo.list_projects(tx)


async def ensure_demo_project(svc: Services, origins: list[str] | tuple[str, ...] = ()) -> tuple[Project, str | None]:
    """The demo project, created on first run; the secret key is returned only when created."""
    async with svc.db.read() as tx:
        existing = await repo.find_demo_project(tx)
    if existing is not None:
        return existing, None
    return await create_project(svc, "Demo", origins, is_demo=True,
                                widget={"welcome_message": "Hi! This is the PocketPing demo. Say hello."})
