"""Delivering one webhook (an outbox row of target "webhook") to its endpoint."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from pocketping import __version__, netguard
from pocketping.clock import Clock
from pocketping.core.delivery import Checkpoint
from pocketping.core.models import OutboxItem
from pocketping.errors import DeliveryError
from pocketping.store import webhooks as repo
from pocketping.store.db import Database
from pocketping.webhooks.signing import SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:  # imported with the client, for the first delivery
    import httpx


def _retry_after(response: netguard.SafeResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(3600.0, max(0.0, float(value)))
    except ValueError:
        return None


class WebhookDelivery:
    """The outbox handler for webhooks: sign, POST (pinned address, no redirects), judge."""

    def __init__(self, db: Database, clock: Clock, *, timeout_seconds: float, allow_private: bool) -> None:
        self.db = db
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self.allow_private = allow_private
        # Made for the first delivery: an HTTP client loads the system's CA certificates (about
        # 2.7 MB of memory), which a server without webhooks never needs.
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = netguard.new_client(
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                headers={"User-Agent": f"PocketPing-Webhooks/{__version__}"})
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        import httpx

        async with self.db.read() as tx:
            webhook = await repo.find_any_project(tx, item.target_id)
        if webhook is None:
            raise DeliveryError("the webhook endpoint was removed", permanent=True)
        if not webhook.enabled:
            raise DeliveryError("the webhook endpoint is disabled", retry_after=300)
        body = orjson.dumps(item.payload)
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(webhook.secret, timestamp, body),
            "PocketPing-Event-Id": str(item.payload.get("id", "")),
            "PocketPing-Event-Type": item.action,
            "PocketPing-Delivery-Attempt": str(item.attempts + 1),
        }
        timeout = self.timeout_seconds
        started = time.perf_counter()
        try:
            response = await netguard.safe_request(self.client, "POST", webhook.url, content=body, headers=headers,
                                                   allow_private=self.allow_private,
                                                   timeout=timeout, total_timeout=timeout, max_body_bytes=0)
        except netguard.UnsafeURL as exc:
            raise DeliveryError(exc.message) from exc
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"could not connect: {type(exc).__name__}: {exc}") from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        status = response.status_code
        if 200 <= status < 300:
            return {"status": status, "ms": elapsed_ms}
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status}: redirects are not followed; give the final URL", status=status)
        raise DeliveryError(f"HTTP {status}", retry_after=_retry_after(response), status=status)
