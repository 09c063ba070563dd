"""The links in a mail: unsubscribe (a page with one button, and RFC 8058's one-click POST)."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pocketping.actions.mail import unsubscribe
from pocketping.errors import InvalidInput

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2937}}
button{{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #94a3b8;background:#fff;cursor:pointer}}
</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/email/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(t: str = "") -> HTMLResponse:
    """A page, not the unsubscribe itself: link scanners follow GET links."""
    token = html.escape(t, quote=True)
    return _page("Stop these emails?", f'<p>You will get no more emails about this conversation.</p>'
                 f'<form method="post" action="/email/unsubscribe?t={token}">'
                 f'<button type="submit">Unsubscribe</button></form>')


@router.post("/email/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_post(request: Request, t: str = "") -> HTMLResponse:
    """The page's button and the one-click POST (body ``List-Unsubscribe=One-Click``) alike."""
    try:
        await unsubscribe(request.app.state.svc, t)
    except InvalidInput as exc:
        return _page("This link is not valid", f"<p>{html.escape(exc.message)}.</p>", status=400)
    return _page("Unsubscribed", "<p>You will get no more emails about this conversation.</p>")
