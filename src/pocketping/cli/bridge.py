"""``pocketping bridge ...`` and ``pocketping doctor``: thin, they call the same actions as the API."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

import typer

from pocketping.cli.common import JsonOpt, deps, emit, group, run, settings
from pocketping.errors import InvalidInput

T = TypeVar("T")

app = group("Connect a project to Telegram, Discord or Slack; see and retry deliveries.")

TokenOpt = Annotated[str | None, typer.Option("--bot-token", help="The bot's token (Telegram: from @BotFather; "
                                                                  "Discord: developer portal; Slack: xoxb-...)")]
ChatOpt = Annotated[str | None, typer.Option("--chat-id", help="Telegram: the forum supergroup's id; write it "
                                                               "with '=' as it is negative: --chat-id=-100123...")]
ChannelOpt = Annotated[str | None, typer.Option("--channel-id", help="Discord or Slack: the channel's id")]
SigningOpt = Annotated[str | None, typer.Option("--signing-secret", help="Slack: the app's signing secret "
                                                                         "(Events API)")]
AppTokenOpt = Annotated[str | None, typer.Option("--app-token", help="Slack: an app-level token xapp-... for "
                                                                     "Socket Mode (no public URL needed)")]

# A bridge's configuration errors name the JSON fields (as REST callers send them); here they
# are said with the flags above.
FLAGS = {"botToken": "--bot-token", "chatId": "--chat-id", "channelId": "--channel-id",
         "signingSecret": "--signing-secret", "appToken": "--app-token"}
_FIELD = re.compile(r"\b(" + "|".join(FLAGS) + r")\b")
_NEGATIVE_EXAMPLE = re.compile(r"e\.g\. (-\d+)")


def cli_error(exc: InvalidInput) -> InvalidInput:
    """The same error in this command line's words: its flags instead of the JSON fields."""
    message = _FIELD.sub(lambda m: FLAGS[m.group(1)], exc.message)
    details = dict(exc.details)
    flag = FLAGS.get(str(details.get("field")))
    if flag is not None:
        details["field"] = flag
        # Only here: a negative number must follow '=', or the shell parser takes it for an option.
        message = _NEGATIVE_EXAMPLE.sub(lambda m: f"e.g. {flag}={m.group(1)} (note the '=' for negative numbers)",
                                        message)
    return InvalidInput(message, code=exc.code, **details)


async def _in_flags(call: Awaitable[T]) -> T:
    try:
        return await call
    except InvalidInput as exc:
        if exc.code != "invalid_bridge_config":
            raise
        raise cli_error(exc) from exc


def _options(bot_token: str | None, chat_id: str | None, channel_id: str | None, signing_secret: str | None,
             app_token: str | None) -> dict[str, Any]:
    return {"bot_token": bot_token, "chat_id": chat_id, "channel_id": channel_id,
            "signing_secret": signing_secret, "app_token": app_token}


def _line(b: dict[str, Any]) -> str:
    where = ", ".join(f"{k} {v}" for k, v in b["config"].items() if not k.endswith("Hint"))
    detail = f" ({b['statusDetail']})" if b.get("statusDetail") else ""
    out = f"{b['id']}  {b['type']:<8}  {b['status']}{detail}  {where}"
    deliveries = b.get("deliveries")
    if deliveries and (deliveries["pending"] or deliveries["failed"]):
        out += f"  [{deliveries['pending']} pending, {deliveries['failed']} failed]"
    return out


@app.command("add")
def add(project_id: str, type_: Annotated[str, typer.Argument(metavar="TYPE", help="telegram, discord or slack")],
        bot_token: TokenOpt = None, chat_id: ChatOpt = None, channel_id: ChannelOpt = None,
        signing_secret: SigningOpt = None, app_token: AppTokenOpt = None, as_json: JsonOpt = False) -> None:
    """Connect a bridge; running servers start it within a few seconds."""
    from pocketping.actions.bridges import add_bridge, bridge_to_api

    options = _options(bot_token, chat_id, channel_id, signing_secret, app_token)
    bridge = run(lambda svc: _in_flags(add_bridge(svc, project_id, type_.lower(), options)), as_json)
    body = bridge_to_api(bridge)
    emit(body, as_json, lambda: f"connected {bridge.type} bridge {bridge.id} to {project_id}; running servers "
                                f"start it within a few seconds.\nCheck it with: pocketping doctor {project_id}")


@app.command("update")
def update(project_id: str, bridge_id: str, bot_token: TokenOpt = None, chat_id: ChatOpt = None,
           channel_id: ChannelOpt = None, signing_secret: SigningOpt = None, app_token: AppTokenOpt = None,
           as_json: JsonOpt = False) -> None:
    """Change a bridge's token or destination; running servers restart it within a few seconds."""
    from pocketping.actions.bridges import bridge_to_api, update_bridge

    options = _options(bot_token, chat_id, channel_id, signing_secret, app_token)
    bridge = run(lambda svc: _in_flags(update_bridge(svc, project_id, bridge_id, options)), as_json)
    emit(bridge_to_api(bridge), as_json, f"updated {bridge.id}; running servers restart it within a few seconds")


@app.command("list")
def list_(project_id: str, as_json: JsonOpt = False) -> None:
    """The project's bridges (tokens are never shown)."""
    from pocketping.actions.bridges import bridge_to_api, list_bridges

    found = run(lambda svc: list_bridges(svc, project_id), as_json)
    data = [bridge_to_api(b, counts) for b, counts in found]
    emit(data, as_json, lambda: "\n".join(_line(b) for b in data) or
         f"no bridges yet: pocketping bridge add {project_id} telegram --bot-token T --chat-id=-100...")


@app.command("remove")
def remove(project_id: str, bridge_id: str, as_json: JsonOpt = False) -> None:
    """Disconnect a bridge (its pending deliveries are dropped; the platform's threads stay)."""
    from pocketping.actions.bridges import remove_bridge

    bridge = run(lambda svc: remove_bridge(svc, project_id, bridge_id), as_json)
    emit({"id": bridge.id, "type": bridge.type, "projectId": bridge.project_id, "removed": True}, as_json,
         f"removed {bridge.type} bridge {bridge.id}")


@app.command("status")
def status(project_id: Annotated[str | None, typer.Argument(help="Only this project")] = None,
           as_json: JsonOpt = False) -> None:
    """Every bridge's health and delivery queue: what is pending, what failed and why."""
    from pocketping.actions.bridges import bridge_status

    found = run(lambda svc: bridge_status(svc, project_id), as_json)
    data = [s.to_api() for s in found]

    def human() -> str:
        if not data:
            return "no bridges"
        out = []
        for b in data:
            out.append(_line(b) + (f"  oldest pending {b['oldestPendingSeconds']:.0f}s"
                                   if b["oldestPendingSeconds"] else ""))
            for d in b["failedDeliveries"]:
                out.append(f"    failed #{d['id']} {d['action']} session {d['sessionId']} after {d['attempts']} "
                           f"attempts: {d['lastError']}")
            for d in b["retryingDeliveries"]:
                out.append(f"    retrying #{d['id']} {d['action']} ({d['attempts']} attempts): {d['lastError']}")
        if any(b["failedDeliveries"] for b in data):
            out.append("retry failed deliveries with: pocketping bridge retry")
        return "\n".join(out)

    emit(data, as_json, human)


@app.command("retry")
def retry(project_id: Annotated[str | None, typer.Argument(help="Only this project")] = None,
          bridge: Annotated[str | None, typer.Option("--bridge", help="Only this bridge")] = None,
          delivery: Annotated[int | None, typer.Option("--delivery", help="Only this delivery (#id)")] = None,
          as_json: JsonOpt = False) -> None:
    """Queue failed deliveries again; a running server sends them within a second or two."""
    from pocketping.actions.bridges import retry_deliveries

    count = run(lambda svc: retry_deliveries(svc, project_id, bridge_id=bridge, delivery_id=delivery), as_json)
    emit({"retried": count}, as_json, f"{count} deliver{'y' if count == 1 else 'ies'} queued again")


def doctor(project_id: Annotated[str | None, typer.Argument(help="Only this project")] = None,
           as_json: JsonOpt = False) -> None:
    """Check every bridge for real against its platform, and mail (SMTP), and say what to fix."""
    from pocketping.mail.doctor import examine_mail, render_mail
    from pocketping.relay.doctor import examine, render

    cfg = settings()
    make = deps().bridge_maker(cfg)

    async def check(svc: Any) -> dict[str, Any]:
        report = await examine(svc.db, make, project_id)
        report["mail"] = await examine_mail(cfg, svc.db)
        report["ok"] = report["ok"] and report["mail"]["ok"]
        return report

    def human() -> str:
        *bridges, verdict = render(report).split("\n")  # the mail section goes before the verdict
        return "\n".join([*bridges, render_mail(report["mail"]), verdict])

    report = run(check, as_json, cfg=cfg)
    emit(report, as_json, human)
    if not report["ok"]:
        raise typer.Exit(1)


