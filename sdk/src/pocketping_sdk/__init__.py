"""PocketPing's Python SDK: REST client (async ``PocketPing``, blocking ``PocketPingSync``),
signed webhooks with ready-made receivers, and the live event stream."""

from pocketping_sdk.client import PocketPing
from pocketping_sdk.errors import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PocketPingError,
    RateLimitError,
    ServerError,
    WebhookVerificationError,
)
from pocketping_sdk.models import (
    Attachment,
    CustomEvent,
    Delivery,
    Identity,
    Message,
    Page,
    Session,
    Webhook,
    WebhookEvent,
)
from pocketping_sdk.signing import SIGNATURE_HEADER, sign
from pocketping_sdk.sync import PocketPingSync

__version__ = "0.1.0"

__all__ = [
    "SIGNATURE_HEADER",
    "APIConnectionError",
    "Attachment",
    "AuthenticationError",
    "ConflictError",
    "CustomEvent",
    "Delivery",
    "Identity",
    "InvalidRequestError",
    "Message",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "PocketPing",
    "PocketPingError",
    "PocketPingSync",
    "RateLimitError",
    "ServerError",
    "Session",
    "Webhook",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "sign",
]
