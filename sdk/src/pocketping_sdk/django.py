"""Webhook receiver for Django.

    from pocketping_sdk.django import webhook_view
    urlpatterns = [path("webhooks/pocketping", webhook_view(pp))]
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pocketping_sdk._receiver import Client, receive_blocking


def webhook_view(pp: Client) -> Callable[[HttpRequest], HttpResponse]:
    """A view (CSRF-exempt: the signature is the authentication) that verifies each webhook
    and dispatches it to ``pp``'s handlers."""

    def view(request: HttpRequest) -> HttpResponse:
        status, answer = receive_blocking(pp, request.body, request.headers)
        return JsonResponse(answer, status=status)

    wrapped: Callable[[HttpRequest], HttpResponse] = csrf_exempt(require_POST(view))
    return wrapped
