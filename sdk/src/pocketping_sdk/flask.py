"""Webhook receiver for Flask.

    from pocketping_sdk.flask import webhook_view
    app.add_url_rule("/webhooks/pocketping", view_func=webhook_view(pp), methods=["POST"])
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, jsonify, request

from pocketping_sdk._receiver import Client, receive_blocking


def webhook_view(pp: Client, *, endpoint: str = "pocketping_webhook") -> Callable[[], tuple[Response, int]]:
    """A view that verifies each webhook and dispatches it to ``pp``'s handlers."""

    def view() -> tuple[Response, int]:
        status, answer = receive_blocking(pp, request.get_data(cache=False), request.headers)
        return jsonify(answer), status

    view.__name__ = endpoint
    return view
