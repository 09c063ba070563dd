"""``GET /metrics``: the Prometheus text format, for operators (docs/deployment.md, "Monitoring").

Off unless ``POCKETPING_METRICS_TOKEN`` is set (then the bearer token is required, from any
address) or ``POCKETPING_METRICS=on`` (then only clients on the loopback address are answered).
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pocketping.actions.services import Services
from pocketping.errors import Forbidden, NotFound, Unauthorized
from pocketping.metrics import PrometheusMetrics

router = APIRouter()


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_access(svc: Services, request: Request) -> PrometheusMetrics:
    """The metrics to render, or the error that says why this request gets none."""
    metrics = svc.metrics
    if not isinstance(metrics, PrometheusMetrics):
        raise NotFound("metrics are off: set POCKETPING_METRICS_TOKEN (or POCKETPING_METRICS=on for loopback)",
                       code="metrics_off")
    token = svc.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.get_secret_value().encode()):
            raise Unauthorized("send the metrics token as 'Authorization: Bearer <POCKETPING_METRICS_TOKEN>'",
                               code="invalid_metrics_token")
        return metrics
    if not _loopback(request.client.host if request.client else None):
        raise Forbidden("metrics are served to loopback clients only; set POCKETPING_METRICS_TOKEN to scrape "
                        "from elsewhere", code="metrics_loopback_only")
    return metrics


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    svc: Services = request.app.state.svc
    found = check_metrics_access(svc, request)
    return Response(await found.render(), media_type=found.content_type)
