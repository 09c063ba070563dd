"""Signing operators in and out of the web inbox, with rate limits per account and per address.

Knowing an operator's email must not be enough to lock them out: failures are counted per
(account, address) pair and per address, and those refuse (429); across all addresses an
account's failures only slow its sign-ins down (a growing wait before the password is
checked), so the right password from an address without recent failures still signs in.

Failures are counted in the database (``login_failures``), so the limits hold across restarts
and across nodes; the keys are keyed hashes, so no email or IP address is stored in clear.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.operators import InboxLogin, clean_email
from pocketping.crypto import sha256_hex
from pocketping.errors import InvalidInput, RateLimited, Unauthorized
from pocketping.passwords import hash_password, needs_rehash, verify_password
from pocketping.store import operators as repo

_LIMIT_PURPOSE = "pocketping/login-limit/v1"
# The account-wide slow-down: from the per-account limit on, each further failure doubles the
# wait before a password of that account is checked, up to this.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0
TOUCH_EVERY = timedelta(seconds=60)  # how stale last_seen_at may get before a write refreshes it
MAX_TOKEN = 100



def _semaphore(svc: Services) -> asyncio.Semaphore:
    """scrypt needs 32 MiB and a core for ~70 ms: at most two at a time, whatever comes in."""
    return svc.login_hashing


@dataclass(frozen=True)
class SignedIn:
    token: str  # goes into the cookie; only its hash is stored
    login: InboxLogin


def _limit_key(svc: Services, kind: str, value: str) -> str:
    return svc.db.keyring.sign(_LIMIT_PURPOSE, f"{kind}:{value}")


def _wrong() -> Unauthorized:
    return Unauthorized("wrong email or password", code="invalid_credentials")


async def _check_limits(svc: Services, keys: list[tuple[str, int]], account_key: str) -> float:
    """Refuse when a pair or address limit is reached; else the account-wide wait in seconds."""
    window = timedelta(seconds=svc.settings.inbox_login_window_seconds)
    now = svc.clock.now()
    async with svc.db.read() as tx:
        for key, limit in keys:
            if limit <= 0:
                continue
            count, oldest = await repo.failures_since(tx, key, now - window)
            if count >= limit:
                retry = ((oldest or now) + window - now).total_seconds()
                raise RateLimited("too many failed sign-ins; try again later", retry_after=max(1.0, retry),
                                  code="login_rate_limited")
        limit = svc.settings.inbox_login_failures_per_account
        if limit <= 0:
            return 0.0
        count, _ = await repo.failures_since(tx, account_key, now - window)
    if count < limit:
        return 0.0
    return float(min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2.0 ** min(count - limit, 16)))


async def sign_in(svc: Services, email: str, password: str, *, ip: str | None) -> SignedIn:
    """Check the credentials; on success open a sign-in that lasts ``inbox_session_hours``."""
    settings = svc.settings
    try:
        address = clean_email(email)
    except InvalidInput:
        address = email.strip().lower()[:320]
    account_key = _limit_key(svc, "account", address)
    ip_key = _limit_key(svc, "ip", ip or "unknown")
    pair_key = _limit_key(svc, "account-ip", f"{address}\n{ip or 'unknown'}")
    wait = await _check_limits(svc, [(pair_key, settings.inbox_login_failures_per_account),
                                     (ip_key, settings.inbox_login_failures_per_ip)], account_key)
    if wait:
        await svc.clock.sleep(wait)  # slowed, not locked: whoever has the password still gets in
    async with svc.db.read() as tx:
        found = await repo.find_operator_by_email(tx, address)
    async with _semaphore(svc):
        ok = await asyncio.to_thread(verify_password, password, found[1] if found else None)
    if not ok or found is None:
        async with unit_of_work(svc) as tx:
            await repo.record_failure(tx, account_key)
            await repo.record_failure(tx, pair_key)
            await repo.record_failure(tx, ip_key)
            await repo.prune_failures(tx, tx.now - timedelta(seconds=settings.inbox_login_window_seconds))
        raise _wrong()
    operator, stored = found
    upgraded = await asyncio.to_thread(hash_password, password) if needs_rehash(stored) else None
    token = secrets.token_urlsafe(32)
    login_id = sha256_hex(token)
    async with unit_of_work(svc) as tx:
        await repo.clear_failures(tx, pair_key)
        await repo.clear_failures(tx, account_key)
        if upgraded is not None:
            await repo.set_password_hash(tx, operator.id, upgraded)
        await repo.delete_expired_logins(tx)
        expires = tx.now + timedelta(hours=settings.inbox_session_hours)
        await repo.insert_login(tx, id=login_id, operator_id=operator.id, expires_at=expires)
        project_ids = await repo.reachable_project_ids(tx, operator)
        login = InboxLogin(id=login_id, operator=operator, project_ids=project_ids, created_at=tx.now,
                           last_seen_at=tx.now, expires_at=expires)
    return SignedIn(token, login)


async def find_signed_in(svc: Services, token: str | None) -> InboxLogin | None:
    """The sign-in a cookie token names, if it is still valid (its expiry slides with use)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    login_id = sha256_hex(token)
    return await find_login(svc, login_id)


async def find_login(svc: Services, login_id: str) -> InboxLogin | None:
    now = svc.clock.now()
    async with svc.db.read() as tx:
        row = await repo.find_login(tx, login_id)
        if row is None or row["expires_at"] <= now:
            return None
        operator = await repo.find_operator(tx, row["operator_id"])
        if operator is None:
            return None
        project_ids = await repo.reachable_project_ids(tx, operator)
    expires, seen = row["expires_at"], row["last_seen_at"]
    if now - seen >= TOUCH_EVERY:
        expires = now + timedelta(hours=svc.settings.inbox_session_hours)
        async with unit_of_work(svc) as tx:
            await repo.touch_login(tx, login_id, expires)
        seen = now
    return InboxLogin(id=login_id, operator=operator, project_ids=project_ids, created_at=row["created_at"],
                      last_seen_at=seen, expires_at=expires)


async def sign_out(svc: Services, login_id: str) -> None:
    async with unit_of_work(svc) as tx:
        await repo.delete_login(tx, login_id)
