"""The HTTP client the platforms' APIs talk through (``bridges.deps.HttpClients`` makes them).

Apart from ``bridges.deps`` so that httpx is imported with the first bridge, not by every server.
"""

from __future__ import annotations

from typing import Any

import httpx


class _NoCookies(httpx.Cookies):
    """A jar that stays empty: nothing is read from answers, so nothing is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class PlatformClient(httpx.AsyncClient):
    """A platform API client: the platforms authenticate by token, so no cookie is kept or
    sent (httpx would otherwise parse every answer for cookies and merge a jar into every
    request). One per bridge, kept for its life: its connections are reused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("platform API clients keep no cookies")
