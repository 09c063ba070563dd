"""Who is signed in, for the inbox's pages and API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pocketping.actions.logins import find_signed_in
from pocketping.actions.services import Services
from pocketping.core.operators import InboxLogin
from pocketping.errors import Unauthorized
from pocketping.server.inbox import security


def services(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


async def optional_login(request: Request) -> InboxLogin | None:
    return await find_signed_in(services(request), security.read_cookie(request, security.SESSION_COOKIE))


async def current_login(request: Request) -> InboxLogin:
    login = await optional_login(request)
    if login is None:
        raise Unauthorized("sign in to the inbox first", code="not_signed_in")
    return login


async def changing_login(request: Request) -> InboxLogin:
    """A signed-in request that changes something: same origin and a valid CSRF token."""
    security.check_origin(request)
    login = await current_login(request)
    security.check_csrf(services(request), login, request.headers.get("x-csrf-token"))
    return login


LoginDep = Annotated[InboxLogin, Depends(current_login)]
ChangeDep = Annotated[InboxLogin, Depends(changing_login)]
ServicesDep = Annotated[Services, Depends(services)]
