"""``GET /inbox`` (sign-in form or the inbox), ``POST /inbox/login``, ``POST /inbox/logout``, assets.

Server-rendered HTML; the inbox itself is driven by one small script (``assets/inbox.js``),
no framework and no build step. Everything a visitor or an operator wrote is put in the
page as text (escaped here, ``textContent`` in the script), never as HTML.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from pocketping.actions.logins import sign_in, sign_out
from pocketping.core.operators import InboxLogin
from pocketping.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthorized
from pocketping.server.inbox import security
from pocketping.server.inbox.deps import optional_login, services
from pocketping.server.inbox.strings import DEFAULT_LOCALE, strings
from pocketping.server.static import load_asset, serve_asset

router = APIRouter(include_in_schema=False)

ASSETS = Path(__file__).parent / "assets"
_MEDIA = {"inbox.js": "application/javascript; charset=utf-8", "signin.js": "application/javascript; charset=utf-8",
          "inbox.css": "text/css; charset=utf-8"}
_NEXT = re.compile(r"^#sess_[A-Za-z0-9]{1,60}$")
MAX_FORM_BYTES = 8192

_HEAD = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/inbox/assets/inbox.css">
"""

_SIGN_IN = """<script src="/inbox/assets/signin.js" defer></script>
</head>
<body class="signin">
<main>
<h1>{app}</h1>
{alert}
<form method="post" action="/inbox/login">
<input type="hidden" name="csrf_token" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="email">{email}</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="{email_value}"
 {autofocus_email}>
<label for="password">{password}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"
 {autofocus_password}>
<button type="submit">{sign_in}</button>
</form>
<p class="hint">{hint} <code>pocketping operator add</code>.</p>
</main>
</body>
</html>
"""

_APP = """<meta name="csrf-token" content="{csrf}">
<script src="/inbox/assets/inbox.js" defer></script>
</head>
<body class="app">
<header class="top">
<h1>{inbox}</h1>
<p id="connection" class="connection" role="status"></p>
<div class="prefs">
<label class="switch"><input type="checkbox" id="mute-toggle" role="switch"> {mute}</label>
<label class="switch"><input type="checkbox" id="sound-toggle" role="switch"> {sound}</label>
<button type="button" id="replies-open" class="quiet">{saved_replies}</button>
<button type="button" id="stats-open" class="quiet">{stats}</button>
<button type="button" id="keys-open" class="quiet" aria-keyshortcuts="?">{shortcuts}</button>
</div>
<p class="who">{signed_in_as} <strong>{who}</strong></p>
<form method="post" action="/inbox/logout">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit" class="quiet">{sign_out}</button>
</form>
</header>
<div class="layout">
<nav class="list" aria-labelledby="list-title">
<form id="search-form" class="search" role="search">
<label for="search">{search}</label>
<input id="search" name="q" type="search" maxlength="200" autocomplete="off">
<button type="submit">{search_button}</button>
</form>
<section id="search-results" class="results" aria-labelledby="results-title" hidden>
<h2 id="results-title">{search_results}</h2>
<p id="results-status" role="status"></p>
<ul id="results"></ul>
<button type="button" id="search-clear" class="quiet">{search_clear}</button>
</section>
<h2 id="list-title">{conversations}</h2>
<div class="filters">
<label for="view">{show}</label>
<select id="view"><option value="open">{view_open}</option><option value="closed">{view_closed}</option>
<option value="mine">{view_mine}</option><option value="unassigned">{view_unassigned}</option></select>
<label for="project-filter">{project}</label>
<select id="project-filter"><option value="">{all_projects}</option></select>
<label for="sort">{sort}</label>
<select id="sort"><option value="activity">{sort_activity}</option>
<option value="waiting">{sort_waiting}</option></select>
</div>
<p id="list-empty" class="empty" hidden>{no_conversations}</p>
<ul id="conversations"></ul>
<button type="button" id="more" class="quiet" hidden>{older}</button>
</nav>
<main id="main" class="conversation">
<p id="placeholder" class="empty">{select}</p>
<section id="conversation" aria-labelledby="conversation-title" hidden>
<header class="conversation-head">
<h2 id="conversation-title"></h2>
<span id="identity-tag" class="tag" hidden></span>
<div class="actions">
<label class="assign">{assigned_to} <select id="assignee"></select></label>
<label class="switch"><input type="checkbox" id="ai-toggle" role="switch"> {ai}</label>
<button type="button" id="status-toggle"></button>
</div>
</header>
<details class="details" open>
<summary>{details}</summary>
<dl id="details"></dl>
<section id="earlier" aria-labelledby="earlier-title" hidden>
<h3 id="earlier-title">{earlier}</h3>
<ul id="earlier-list"></ul>
</section>
</details>
<ol id="timeline" class="timeline" role="log" aria-label="{messages}"></ol>
<p id="typing" class="typing" role="status"></p>
<form id="reply-form" class="reply">
<label for="reply">{reply}</label>
<textarea id="reply" name="text" rows="3" maxlength="{max_chars}" aria-autocomplete="list"
 aria-controls="reply-suggestions"></textarea>
<input id="reply-files" type="file" multiple hidden>
<button id="attach" type="button" class="secondary">{attach}</button>
<ul id="reply-attachments" class="pending" aria-label="{attachments}"></ul>
<button type="submit">{send}</button>
<ul id="reply-suggestions" role="listbox" aria-label="{saved_replies}" hidden></ul>
<label class="switch note-switch"><input type="checkbox" id="note-toggle" role="switch"> {note}</label>
<p id="reply-error" class="error" role="alert"></p>
</form>
</section>
<section id="replies-screen" class="screen" aria-labelledby="replies-title" hidden>
<h2 id="replies-title">{saved_replies}</h2>
<p class="hint">{replies_hint}</p>
<ul id="replies-list"></ul>
<form id="reply-add" class="reply-add">
<label for="reply-project">{project}</label><select id="reply-project" required></select>
<label for="reply-shortcut">{shortcut}</label><input id="reply-shortcut" required maxlength="64">
<label for="reply-text">{reply_text}</label><textarea id="reply-text" required maxlength="4000" rows="3"></textarea>
<button type="submit">{save_reply}</button>
<p id="replies-error" class="error" role="alert"></p>
</form>
<button type="button" id="replies-close" class="quiet">{search_clear}</button>
</section>
<section id="stats-screen" class="screen" aria-labelledby="stats-title" hidden>
<h2 id="stats-title">{stats}</h2>
<div class="filters">
<label for="stats-project">{project}</label><select id="stats-project"></select>
<label for="stats-since">{period}</label>
<select id="stats-since"><option value="7d">{d7}</option><option value="30d" selected>{d30}</option>
<option value="90d">{d90}</option></select>
</div>
<dl id="stats-figures" class="figures"></dl>
<table id="stats-days"><caption>{by_day}</caption><thead><tr><th scope="col">{day}</th>
<th scope="col">{stat_conversations}</th><th scope="col">{stat_ai}</th><th scope="col">{stat_first}</th>
<th scope="col">{stat_ratings}</th></tr></thead><tbody></tbody></table>
<p id="stats-error" class="error" role="alert"></p>
<button type="button" id="stats-close" class="quiet">{search_clear}</button>
</section>
</main>
</div>
<dialog id="keys" aria-labelledby="keys-title">
<h2 id="keys-title">{shortcuts}</h2>
<dl>
<dt><kbd>j</kbd> / <kbd>k</kbd></dt><dd>{key_next}</dd>
<dt><kbd>r</kbd></dt><dd>{key_reply}</dd>
<dt><kbd>e</kbd></dt><dd>{key_close}</dd>
<dt><kbd>a</kbd></dt><dd>{key_assign}</dd>
<dt><kbd>/</kbd></dt><dd>{key_search}</dd>
<dt><kbd>?</kbd></dt><dd>{key_help}</dd>
</dl>
<form method="dialog"><button type="submit">{close_dialog}</button></form>
</dialog>
<script type="application/json" id="inbox-strings">{strings_json}</script>
</body>
</html>
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    text = _HEAD.format(lang=DEFAULT_LOCALE, title=_esc(title)) + body
    return HTMLResponse(text, status_code=status, headers={**security.PAGE_HEADERS, **(headers or {})})


def _json_for_script(data: object) -> str:
    # Inside <script type="application/json">, only "<" could end the element early.
    return orjson.dumps(data).decode().replace("<", "\\u003c")


def _sign_in_page(request: Request, *, alert: str = "", email: str = "", next_hash: str = "", status: int = 200,
                  headers: dict[str, str] | None = None) -> HTMLResponse:
    t = strings()
    token = security.read_cookie(request, security.FORM_COOKIE) or security.new_form_token()
    body = _SIGN_IN.format(
        app=_esc(t["app"]), alert=f'<p class="error" role="alert">{_esc(alert)}</p>' if alert else "",
        token=_esc(token), email=_esc(t["email"]), password=_esc(t["password"]), sign_in=_esc(t["signIn"]),
        email_value=_esc(email), hint=_esc(t["signInHint"]), next=_esc(next_hash if _NEXT.match(next_hash) else ""),
        autofocus_email="" if email else "autofocus", autofocus_password="autofocus" if email else "")
    response = _page(f"{t['signIn']} · {t['app']}", body, status, headers)
    # The same token for every tab until it is used, so two open sign-in tabs both work.
    security.set_cookie(response, request, security.FORM_COOKIE, token, max_age=86400, same_site="strict")
    return response


def _app_page(request: Request, login: InboxLogin) -> HTMLResponse:
    svc = services(request)
    t = strings()
    if svc.settings.mail_ready():  # "noMail" shows beside a visitor's email on a server without SMTP
        t = {k: v for k, v in t.items() if k != "noMail"}
    body = _APP.format(
        csrf=_esc(security.csrf_token(svc, login)), inbox=_esc(t["inbox"]), signed_in_as=_esc(t["signedInAs"]),
        who=_esc(login.operator.email), sign_out=_esc(t["signOut"]), conversations=_esc(t["conversations"]),
        no_conversations=_esc(t["noConversations"]), older=_esc(t["olderConversations"]),
        select=_esc(t["selectConversation"]), ai=_esc(t["ai"]), details=_esc(t["details"]),
        messages=_esc(t["messages"]), reply=_esc(t["reply"]), send=_esc(t["send"]), attach=_esc(t["attach"]),
        attachments=_esc(t["attachments"]),
        max_chars=svc.settings.max_text_chars, search=_esc(t["search"]), search_button=_esc(t["searchButton"]),
        search_results=_esc(t["searchResults"]), search_clear=_esc(t["searchClear"]),
        show=_esc(t["show"]), view_open=_esc(t["viewOpen"]), view_closed=_esc(t["viewClosed"]),
        view_mine=_esc(t["viewMine"]), view_unassigned=_esc(t["viewUnassigned"]), project=_esc(t["project"]),
        all_projects=_esc(t["allProjects"]), sort=_esc(t["sort"]), sort_activity=_esc(t["sortActivity"]),
        sort_waiting=_esc(t["sortWaiting"]), assigned_to=_esc(t["assignedTo"]), earlier=_esc(t["earlier"]),
        mute=_esc(t["mute"]), sound=_esc(t["sound"]), saved_replies=_esc(t["savedReplies"]),
        shortcuts=_esc(t["shortcuts"]), note=_esc(t["note"]), replies_hint=_esc(t["repliesHint"]),
        shortcut=_esc(t["shortcut"]), reply_text=_esc(t["replyText"]), save_reply=_esc(t["saveReply"]),
        key_next=_esc(t["keyNext"]), key_reply=_esc(t["keyReply"]), key_close=_esc(t["keyClose"]),
        key_assign=_esc(t["keyAssign"]), key_search=_esc(t["keySearch"]), key_help=_esc(t["keyHelp"]),
        close_dialog=_esc(t["closeDialog"]), stats=_esc(t["stats"]), period=_esc(t["period"]),
        d7=_esc(t["days"].format(n=7)), d30=_esc(t["days"].format(n=30)), d90=_esc(t["days"].format(n=90)),
        by_day=_esc(t["byDay"]), day=_esc(t["day"]), stat_conversations=_esc(t["statConversations"]),
        stat_ai=_esc(t["statAi"]), stat_first=_esc(t["statFirst"]), stat_ratings=_esc(t["statRatings"]),
        strings_json=_json_for_script(t))
    return _page(f"{t['inbox']} · PocketPing", body)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request) -> HTMLResponse:
    login = await optional_login(request)
    if login is None:
        return _sign_in_page(request)
    return _app_page(request, login)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InvalidInput("send the form as application/x-www-form-urlencoded", code="invalid_input")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput("the form is too large", code="invalid_input")
    parsed = parse_qs(body.decode(errors="replace"), keep_blank_values=True, max_num_fields=10)
    return {key: values[0] for key, values in parsed.items()}


@router.post("/inbox/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    t = strings()
    try:
        security.check_origin(request)
        form = await _form(request)
        security.check_form_token(request, form.get("csrf_token"))
    except (Forbidden, InvalidInput):
        return _sign_in_page(request, alert=t["formExpired"], status=403)
    email = form.get("email", "")[:320]
    next_hash = form.get("next", "")
    try:
        signed = await sign_in(services(request), email, form.get("password", ""), ip=security.client_ip(request))
    except RateLimited as exc:
        minutes = max(1, int(exc.retry_after // 60 + 1))
        return _sign_in_page(request, alert=t["rateLimited"].format(minutes=minutes), email=email,
                             next_hash=next_hash, status=429,
                             headers={"Retry-After": str(max(1, int(exc.retry_after + 0.999)))})
    except Unauthorized:
        return _sign_in_page(request, alert=t["wrongCredentials"], email=email, next_hash=next_hash, status=401)
    # Back to the conversation a link pointed at (only ever a session of this inbox).
    target = "/inbox" + (next_hash if _NEXT.match(next_hash) else "")
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    security.set_cookie(response, request, security.SESSION_COOKIE, signed.token,
                        max_age=services(request).settings.inbox_session_hours * 3600)
    security.clear_cookie(response, request, security.FORM_COOKIE)
    return response


@router.post("/inbox/logout")
async def logout(request: Request) -> Response:
    security.check_origin(request)
    try:
        form = await _form(request)
    except InvalidInput:
        form = {}  # then the CSRF check below refuses it
    login = await optional_login(request)
    if login is not None:
        security.check_csrf(services(request), login, form.get("csrf_token"))
        await sign_out(services(request), login.id)
    response = RedirectResponse("/inbox", status_code=303, headers={"Cache-Control": "no-store"})
    security.clear_cookie(response, request, security.SESSION_COOKIE)
    return response


@router.get("/inbox/assets/{name}")
async def asset(name: str, request: Request) -> Response:
    media = _MEDIA.get(name)
    found = load_asset(name, media, ASSETS) if media else None
    if found is None:
        raise NotFound("no such inbox asset", code="not_found")
    return serve_asset(request, found, "no-cache")
