"""What operators measure (``GET /metrics``, Prometheus text format): one small interface.

The code that does the work calls a method here (``message_stored``, ``delivery``, ``ack`` ...);
``Metrics`` itself does nothing, so a server with metrics off pays one no-op call and never
imports ``prometheus_client``. ``PrometheusMetrics`` (made by the wiring when
``POCKETPING_METRICS_TOKEN`` or ``POCKETPING_METRICS=on`` is set) records them in a registry of
its own, one per server, and refreshes what is read at scrape time (the outbox's depth, open
inbox sockets, the database pool) just before it renders. Every series is documented in
docs/deployment.md ("Monitoring").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# Latency buckets in seconds: an ack takes milliseconds, a model's answer seconds.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
AI_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)

# What the outbox's depth is refreshed from at scrape time: (target, pending rows, age of the oldest in s).
OutboxStats = Callable[[], Awaitable[list[tuple[str, int, float]]]]


class Metrics:
    """Metrics off: every call is a no-op."""

    enabled = False

    def widget_opened(self) -> None: ...

    def widget_closed(self) -> None: ...

    def message_stored(self, sender: str) -> None: ...

    def ack(self, seconds: float) -> None: ...

    def delivery(self, platform: str, outcome: str) -> None: ...

    def webhook_failed(self, reason: str) -> None: ...

    def ai_answer(self, outcome: str, seconds: float) -> None: ...

    def watch(self, *, inbox_sockets: Callable[[], int] | None = None, pool_in_use: Callable[[], int] | None = None,
              outbox: OutboxStats | None = None, outbox_targets: tuple[str, ...] = ()) -> None:
        """What is read at scrape time rather than counted as it happens (given by the wiring)."""

    async def render(self) -> bytes:
        return b""


class PrometheusMetrics(Metrics):
    """Metrics on: every series in a registry of this server's own."""

    enabled = True
    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        # No *_created series: a start time per counter tells an operator nothing.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = r = CollectorRegistry(auto_describe=True)
        self._widgets = Gauge("pocketping_widget_connections", "Open widget WebSocket connections.", registry=r)
        self._inbox = Gauge("pocketping_inbox_connections", "Open web inbox WebSocket connections.", registry=r)
        self._messages = Counter("pocketping_messages_stored", "Messages stored, by sender.", ["sender"], registry=r)
        self._ack = Histogram("pocketping_ack_latency_seconds",
                              "From a widget's message frame received to its ack sent.", buckets=ACK_BUCKETS,
                              registry=r)
        self._outbox_depth = Gauge("pocketping_outbox_pending", "Outbox rows waiting to be delivered, per target type.",
                                   ["target"], registry=r)
        self._outbox_age = Gauge("pocketping_outbox_oldest_pending_age_seconds",
                                 "Age of the oldest pending outbox row, per target type (0 when none).",
                                 ["target"], registry=r)
        self._deliveries = Counter("pocketping_deliveries", "Outbox deliveries, by platform and outcome.",
                                   ["platform", "outcome"], registry=r)
        self._webhook_failures = Counter("pocketping_webhook_failures", "Webhook deliveries that failed, by reason.",
                                         ["reason"], registry=r)
        self._ai = Counter("pocketping_ai_answers", "AI fallback runs, by outcome.", ["outcome"], registry=r)
        self._ai_seconds = Histogram("pocketping_ai_answer_seconds", "How long an AI fallback run took.",
                                     ["outcome"], buckets=AI_BUCKETS, registry=r)
        self._pool = Gauge("pocketping_db_pool_in_use", "Database connections checked out of the pool.", registry=r)
        for sender in ("visitor", "operator", "ai", "system"):
            self._messages.labels(sender)
        self._outbox_stats: OutboxStats | None = None
        self._outbox_targets: tuple[str, ...] = ()

    def widget_opened(self) -> None:
        self._widgets.inc()

    def widget_closed(self) -> None:
        self._widgets.dec()

    def message_stored(self, sender: str) -> None:
        self._messages.labels(sender).inc()

    def ack(self, seconds: float) -> None:
        self._ack.observe(seconds)

    def delivery(self, platform: str, outcome: str) -> None:
        self._deliveries.labels(platform, outcome).inc()

    def webhook_failed(self, reason: str) -> None:
        self._webhook_failures.labels(reason).inc()

    def ai_answer(self, outcome: str, seconds: float) -> None:
        self._ai.labels(outcome).inc()
        self._ai_seconds.labels(outcome).observe(seconds)

    def watch(self, *, inbox_sockets: Callable[[], int] | None = None, pool_in_use: Callable[[], int] | None = None,
              outbox: OutboxStats | None = None, outbox_targets: tuple[str, ...] = ()) -> None:
        if inbox_sockets is not None:
            self._inbox.set_function(inbox_sockets)
        if pool_in_use is not None:
            self._pool.set_function(pool_in_use)
        if outbox is not None:
            self._outbox_stats = outbox
        self._outbox_targets = tuple(dict.fromkeys((*self._outbox_targets, *outbox_targets)))
        for target in self._outbox_targets:
            self._outbox_depth.labels(target)
            self._outbox_age.labels(target)

    async def render(self) -> bytes:
        from prometheus_client import generate_latest

        if self._outbox_stats is not None:
            seen: dict[str, tuple[int, float]] = {t: (0, 0.0) for t in self._outbox_targets}
            for target, pending, age in await self._outbox_stats():
                seen[target] = (pending, age)
            for target, (pending, age) in seen.items():
                self._outbox_depth.labels(target).set(pending)
                self._outbox_age.labels(target).set(age)
        body: bytes = generate_latest(self.registry)
        return body


def new_metrics(settings: Any) -> Metrics:
    """Prometheus metrics when the settings turn them on, the no-op ones otherwise."""
    on = settings.metrics == "on" or settings.metrics_token is not None
    return PrometheusMetrics() if on else Metrics()
