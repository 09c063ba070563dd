"""Every dependency, built in one place, for the server and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pocketping.clock import Clock, SystemClock
from pocketping.config import Settings
from pocketping.crypto import load_keyring
from pocketping.hub import Hub, LocalHub
from pocketping.outbox import OutboxWorker
from pocketping.ratelimit import RateLimiter
from pocketping.store.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    hub: Hub
    clock: Clock
    outbox: OutboxWorker
    visitor_limiter: RateLimiter
    connection_limiter: RateLimiter
    # Feature modules keep their long-lived objects here (bridge manager, AI scheduler ...).
    extras: dict[str, Any] = field(default_factory=dict)

    def outbox_committed(self) -> None:
        self.outbox.notify()


def build_services(settings: Settings, *, clock: Clock | None = None, hub: Hub | None = None,
                   create_key: bool = True) -> Services:
    clock = clock or SystemClock()
    keyring = load_keyring(
        settings.encryption_key.get_secret_value() if settings.encryption_key else None,
        settings.previous_encryption_keys.get_secret_value() if settings.previous_encryption_keys else None,
        settings.data_dir,
        create=create_key,
    )
    db = Database(settings.database_url, keyring, clock)
    worker = OutboxWorker(db, clock, poll_seconds=settings.outbox_poll_seconds,
                          lease_seconds=settings.outbox_lease_seconds,
                          retry_window_seconds=settings.outbox_retry_window_seconds,
                          keep_done_days=settings.delivery_retention_days,
                          concurrency=settings.outbox_concurrency)
    return Services(
        settings=settings,
        db=db,
        hub=hub or LocalHub(),
        clock=clock,
        outbox=worker,
        visitor_limiter=RateLimiter(settings.rate_limit_messages_per_minute, clock),
        connection_limiter=RateLimiter(settings.rate_limit_connections_per_minute, clock),
    )
