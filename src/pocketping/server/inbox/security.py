"""Cookies, CSRF tokens and same-origin checks for the web inbox.

* The sign-in cookie is HttpOnly, SameSite=Lax, Path=/, and Secure with the ``__Host-``
  prefix whenever the inbox is served over https (directly, behind a proxy that says so, or
  when ``POCKETPING_PUBLIC_URL`` is https).
* Every state change needs a CSRF token: signed in, a token derived from the sign-in
  (``X-CSRF-Token`` header or ``csrf_token`` form field); on the sign-in form, a
  double-submit token bound to a pre-sign-in cookie. A browser's ``Origin`` header, when
  present, must also be our own; the operator WebSocket requires it.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.requests import HTTPConnection

from pocketping.actions.services import Services
from pocketping.core.operators import InboxLogin
from pocketping.errors import Forbidden

SESSION_COOKIE = "pp_inbox"
FORM_COOKIE = "pp_signin"
_CSRF_PURPOSE = "pocketping/inbox-csrf/v1"

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _svc(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.svc
    return svc


def is_https(conn: HTTPConnection) -> bool:
    public = _svc(conn).settings.public_base()
    return conn.url.scheme in ("https", "wss") or bool(public and public.startswith("https://"))


def cookie_name(conn: HTTPConnection, base: str) -> str:
    # __Host- cookies must be Secure, Path=/ and host-only: a sibling subdomain cannot plant one.
    return f"__Host-{base}" if is_https(conn) else base


def read_cookie(conn: HTTPConnection, base: str) -> str | None:
    return conn.cookies.get(cookie_name(conn, base))


def set_cookie(response: Response, conn: HTTPConnection, base: str, value: str, *, max_age: int | None,
               same_site: str = "lax") -> None:
    response.set_cookie(cookie_name(conn, base), value, max_age=max_age, path="/", secure=is_https(conn),
                        httponly=True, samesite=same_site)  # type: ignore[arg-type]


def clear_cookie(response: Response, conn: HTTPConnection, base: str) -> None:
    response.delete_cookie(cookie_name(conn, base), path="/", secure=is_https(conn), httponly=True,
                           samesite="lax")


def csrf_token(svc: Services, login: InboxLogin) -> str:
    return svc.db.keyring.sign(_CSRF_PURPOSE, login.id)


def check_csrf(svc: Services, login: InboxLogin, given: str | None) -> None:
    if not given or len(given) > 200 or not svc.db.keyring.verify(_CSRF_PURPOSE, login.id, given):
        raise Forbidden("missing or invalid CSRF token; reload the inbox", code="csrf_failed")


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def check_form_token(conn: HTTPConnection, given: str | None) -> None:
    """The sign-in form's double-submit token: the hidden field must equal the cookie."""
    expected = read_cookie(conn, FORM_COOKIE)
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("the sign-in form expired; reload the page and try again", code="csrf_failed")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    return f"{parts.scheme}://{parts.hostname.lower()}" + (f":{port}" if port != default else "")


def own_origins(conn: HTTPConnection) -> set[str]:
    """Origins this server answers as: the Host the browser used, and the public URL."""
    found = set()
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    host = conn.headers.get("host")
    if host:
        origin = _origin_of(f"{scheme}://{host}")
        if origin:
            found.add(origin)
    public = _svc(conn).settings.public_base()
    if public:
        origin = _origin_of(public)
        if origin:
            found.add(origin)
    return found


def origin_ok(conn: HTTPConnection, *, required: bool) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:
        return not required
    normalized = _origin_of(origin)
    return normalized is not None and normalized in own_origins(conn)


def check_origin(request: Request) -> None:
    """Browsers send Origin on every POST: a foreign one is refused before anything else."""
    if not origin_ok(request, required=False):
        raise Forbidden("this request comes from another site", code="origin_not_allowed")


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None
