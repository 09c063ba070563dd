"""Operators of the web inbox: create, list, remove, reset a password (the CLI's actions)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import IntegrityError

from pocketping import ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.operators import Operator, clean_email
from pocketping.core.rules import strip_bidi
from pocketping.errors import Conflict, InvalidInput, NotFound
from pocketping.mail.planner import DEFAULT_NOTIFY_AFTER
from pocketping.passwords import check_new_password, generate_password, hash_password
from pocketping.store import operators as repo
from pocketping.store import projects as project_repo
from pocketping.store.db import Tx

DEMO_OPERATOR_EMAIL = "demo@example.com"


async def _hash(password: str) -> str:
    # scrypt takes tens of milliseconds: keep the event loop free meanwhile.
    return await asyncio.to_thread(hash_password, password)


async def add_operator(svc: Services, email: str, *, project_ids: list[str] | tuple[str, ...] = (),
                       admin: bool = False, password: str | None = None,
                       name: str | None = None) -> tuple[Operator, str | None]:
    """Create an operator. Returns it with the generated password (None when one was given)."""
    email = clean_email(email)
    wanted = list(dict.fromkeys(project_ids))
    if admin and wanted:
        raise InvalidInput("give either --admin (every project) or --project, not both", code="invalid_input")
    if not admin and not wanted:
        raise InvalidInput("give at least one --project PROJECT_ID (or --admin for every project)",
                           code="project_required")
    if name is not None:
        name = strip_bidi(name).strip()
        if not name or len(name) > 100:
            raise InvalidInput("an operator name is 1-100 characters", code="invalid_operator_name")
    generated = None
    if password is None:
        password = generated = generate_password()
    password_hash = await _hash(check_new_password(password))
    try:
        operator = await _insert(svc, email, name, password_hash, admin, wanted)
    except IntegrityError as exc:  # the same email added at the same moment elsewhere
        raise _exists(email) from exc
    return operator, generated


def _exists(email: str) -> Conflict:
    return Conflict(f"an operator {email} already exists; `pocketping operator reset-password` gives them a new "
                    "password", code="operator_exists")


async def _insert(svc: Services, email: str, name: str | None, password_hash: str, admin: bool,
                  wanted: list[str]) -> Operator:
    async with unit_of_work(svc) as tx:
        missing = set(wanted) - await repo.existing_project_ids(tx, wanted)
        if missing:
            raise NotFound(f"project {sorted(missing)[0]} not found", code="project_not_found")
        if await repo.find_operator_by_email(tx, email) is not None:
            raise _exists(email)
        operator = await repo.insert_operator(tx, id=ids.new_id(ids.OPERATOR), email=email, name=name,
                                              password_hash=password_hash, is_admin=admin, project_ids=wanted)
        await project_repo.bump_config_version(tx)
    return operator


async def _get(tx: Tx, email: str) -> Operator:
    found = await repo.find_operator_by_email(tx, clean_email(email))
    if found is None:
        raise NotFound(f"no operator {email.strip()}", code="operator_not_found")
    return found[0]


async def remove_operator(svc: Services, email: str) -> Operator:
    """Delete an operator; their open inbox tabs are signed out within seconds."""
    async with unit_of_work(svc) as tx:
        operator = await _get(tx, email)
        await repo.delete_operator(tx, operator.id)
        await project_repo.bump_config_version(tx)
    return operator


async def reset_password(svc: Services, email: str, password: str | None = None) -> tuple[Operator, str | None]:
    """Set a new password (generated unless given) and sign the operator out everywhere."""
    generated = None
    if password is None:
        password = generated = generate_password()
    password_hash = await _hash(check_new_password(password))
    async with unit_of_work(svc) as tx:
        operator = await _get(tx, email)
        await repo.set_password_hash(tx, operator.id, password_hash)
        await repo.delete_operator_logins(tx, operator.id)
        await project_repo.bump_config_version(tx)
    return operator, generated


async def reachable_projects(svc: Services, operator: Operator) -> tuple[str, ...]:
    async with svc.db.read() as tx:
        return await repo.reachable_project_ids(tx, operator)


async def list_operators(svc: Services) -> list[Operator]:
    async with svc.db.read() as tx:
        return await repo.list_operators(tx)


async def ensure_demo_operator(svc: Services, project_id: str) -> tuple[Operator, str | None]:
    """The demo project's operator, created once; the password is returned only when created."""
    async with svc.db.read() as tx:
        found = await repo.find_operator_by_email(tx, DEMO_OPERATOR_EMAIL)
    if found is not None:
        return found[0], None
    try:
        return await add_operator(svc, DEMO_OPERATOR_EMAIL, project_ids=[project_id], name="Demo operator")
    except Conflict:  # another process created it at the same moment
        async with svc.db.read() as tx:
            again = await repo.find_operator_by_email(tx, DEMO_OPERATOR_EMAIL)
        assert again is not None
        return again[0], None


async def set_notify(svc: Services, email: str, *, notify: str | None = None,
                     notify_after: int | None = None) -> tuple[Operator, str, int]:
    """Mail this operator about a new conversation, or a visitor's message still unanswered after
    ``notify_after`` seconds, while nobody is online (``--notify email|none --notify-after``)."""
    if notify is not None and notify not in ("email", "none"):
        raise InvalidInput("--notify must be email or none", code="invalid_setting")
    if notify_after is not None and not 0 <= notify_after <= 7 * 86400:
        raise InvalidInput("--notify-after must be 0-604800 seconds", code="invalid_setting")
    if notify == "email" and not svc.settings.mail_ready():
        raise InvalidInput("this server sends no mail: set POCKETPING_SMTP_URL and POCKETPING_MAIL_FROM first "
                           "(docs/email.md)", code="mail_not_configured")
    async with unit_of_work(svc) as tx:
        operator = await _get(tx, email)
        values: dict[str, Any] = {}
        if notify is not None:
            values["notify"] = None if notify == "none" else notify
        if notify_after is not None:
            values["notify_after"] = notify_after
        if values:
            await repo.set_notify(tx, operator.id, **values)
        current, after = await repo.notify_settings(tx, operator.id)
    return operator, current or "none", DEFAULT_NOTIFY_AFTER if after is None else after
