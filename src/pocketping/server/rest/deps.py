"""Shared request dependencies: the services and the project a secret key reaches."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pocketping.actions.access import access_project_by_secret
from pocketping.actions.services import Services
from pocketping.core.models import Project

bearer = HTTPBearer(auto_error=False, description="the project's secret key: Bearer sk_live_...")


def services(request: Request) -> Services:
    svc: Services = request.app.state.svc
    return svc


async def current_project(request: Request,
                          credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Project:
    return await access_project_by_secret(services(request), credentials.credentials if credentials else None)


ProjectDep = Annotated[Project, Depends(current_project)]
ServicesDep = Annotated[Services, Depends(services)]
