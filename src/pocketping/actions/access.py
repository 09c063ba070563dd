"""The one place that decides which project a key reaches."""

from __future__ import annotations

from pocketping import logs
from pocketping.actions.services import Services
from pocketping.core.models import Project
from pocketping.crypto import sha256_hex
from pocketping.errors import Unauthorized
from pocketping.store import projects as repo


async def access_project_by_secret(svc: Services, key: str | None) -> Project:
    if not key:
        raise Unauthorized("send your project's secret key as 'Authorization: Bearer sk_live_...'",
                           code="missing_key")
    if key.startswith("pk_"):
        raise Unauthorized("this is a public key; the REST API needs the project's secret key (sk_live_...)",
                           code="secret_key_required")
    if not key.startswith("sk_"):
        raise Unauthorized("invalid secret key", code="invalid_key")
    digest = sha256_hex(key)
    async with svc.db.read() as tx:
        project = await repo.find_project_by_secret_hash(tx, digest)
    # The lookup is by SHA-256 of a 40-character random key: timing reveals nothing useful.
    if project is None:
        raise Unauthorized("invalid secret key", code="invalid_key")
    logs.bind(project_id=project.id)
    return project


async def access_project_by_public_key(svc: Services, key: object) -> Project:
    if not isinstance(key, str) or not key.startswith("pk_") or len(key) > 64:
        raise Unauthorized("unknown public key", code="invalid_key")
    async with svc.db.read() as tx:
        project = await repo.find_project_by_public_key(tx, key)
    if project is None:
        raise Unauthorized("unknown public key", code="invalid_key")
    logs.bind(project_id=project.id)
    return project
