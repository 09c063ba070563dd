"""``pocketping operator ...``: who may sign in to the web inbox, and to which projects."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, fail, group, run, settings

if TYPE_CHECKING:
    from pocketping.actions.services import Services
    from pocketping.core.operators import Operator

app = group("Operators of the web inbox (/inbox): add, list, update, remove, reset a password.")

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line "
                                                                      "of standard input instead of generating one")]


def _read_password(as_json: bool) -> str:
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        fail("--password-stdin: standard input is empty", as_json, "invalid_password")
    return password


def _inbox_url() -> str:
    cfg = settings()
    return f"{cfg.public_base() or f'http://{cfg.host}:{cfg.port}'}/inbox"


def _projects_text(operator: Operator) -> str:
    return "every project (admin)" if operator.is_admin else ", ".join(operator.project_ids)


def _created(operator: Operator, password: str | None, as_json: bool, verb: str,
             reach: tuple[str, ...] | None = None) -> None:
    projects = list(reach if reach is not None else operator.project_ids)
    data: dict[str, Any] = {"email": operator.email, "password": password, "projects": projects,
                            "admin": operator.is_admin, "id": operator.id}

    def human() -> str:
        lines = [f"Operator {operator.email} {verb} ({_projects_text(operator)})."]
        if password is not None:
            lines.append(f"Password (shown once, store it now): {password}")
        lines.append(f"Sign in at {_inbox_url()}")
        return "\n".join(lines)

    emit(data, as_json, human)


@app.command("add")
def add(
    email: str,
    project: Annotated[list[str] | None, typer.Option("--project", help="A project the operator answers for "
                                                      "(repeatable)")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Every project, including ones created later "
                                                        "(instead of --project)")] = False,
    name: Annotated[str | None, typer.Option(help="How replies are signed [default: the part of the email "
                                                  "before @]")] = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an operator. Without --password-stdin a strong password is generated and printed once."""
    from pocketping.actions.operators import add_operator, reachable_projects

    password = _read_password(as_json) if password_stdin else None

    async def go(svc: Any) -> tuple[Operator, str | None, tuple[str, ...]]:
        operator, generated = await add_operator(svc, email, project_ids=project or [], admin=admin,
                                                 password=password, name=name)
        return operator, generated, await reachable_projects(svc, operator)

    operator, generated, reach = run(go, as_json)
    # For an admin, "projects" lists what they reach today; "admin": true says it grows with new projects.
    _created(operator, generated, as_json, "added", reach)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List operators and the projects they reach."""
    from pocketping.actions.operators import list_operators

    found = run(list_operators, as_json)
    emit([o.to_api() for o in found], as_json,
         lambda: "\n".join(f"{o.email}  {o.display_name}  {_projects_text(o)}" for o in found)
         or "no operators yet: pocketping operator add EMAIL --project PROJECT_ID")


@app.command("update")
def update(
    email: str,
    notify: Annotated[str | None, typer.Option("--notify", help="email|none: mail me about a new conversation, or a "
                                               "visitor's message still unanswered, while nobody is online")] = None,
    notify_after: Annotated[int | None, typer.Option("--notify-after", help="Seconds a visitor's message may wait "
                                                     "unanswered before the mail (default 120)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an operator's notifications."""
    from pocketping.actions.operators import set_notify

    operator, current, after = run(lambda svc: set_notify(svc, email, notify=notify, notify_after=notify_after),
                                   as_json)
    emit({"email": operator.email, "notify": current, "notifyAfter": after}, as_json,
         f"{operator.email}: notify {current}" + (f", after {after} s unanswered" if current == "email" else ""))


@app.command("remove")
def remove(email: str, as_json: JsonOpt = False) -> None:
    """Delete an operator; their open inbox tabs are signed out within seconds."""
    from pocketping.actions.operators import remove_operator

    operator = run(lambda svc: remove_operator(svc, email), as_json)
    emit({"email": operator.email, "removed": True}, as_json, f"Operator {operator.email} removed.")


@app.command("reset-password")
def reset_password(email: str, password_stdin: PasswordStdin = False, as_json: JsonOpt = False) -> None:
    """Give an operator a new password (printed once unless read from stdin); signs them out everywhere."""
    from pocketping.actions.operators import reset_password as reset

    password = _read_password(as_json) if password_stdin else None
    operator, generated = run(lambda svc: reset(svc, email, password), as_json)
    _created(operator, generated, as_json, "has a new password")


async def demo_operator(svc: Services, info: dict[str, Any]) -> None:
    """The demo's inbox operator (a demo line: see ``pocketping.wiring``)."""
    from pocketping.actions.operators import ensure_demo_operator

    operator, password = await ensure_demo_operator(svc, info["projectId"])
    info["operator"] = {"email": operator.email, "password": password}
    lines = info.setdefault("extraLines", [])
    if password is not None:
        lines += ["", "Demo operator for the inbox (shown once):", f"  email:    {operator.email}",
                  f"  password: {password}"]
    else:
        lines += ["", f"Demo operator for the inbox: {operator.email} (password shown on first run; "
                      f"new one: pocketping operator reset-password {operator.email})"]

