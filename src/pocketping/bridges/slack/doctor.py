"""``pocketping doctor`` for a Slack bridge: real calls, plain answers, what to fix."""

from __future__ import annotations

from pocketping.bridges.base import Finding
from pocketping.bridges.slack.api import SlackApi, SlackError
from pocketping.bridges.slack.config import REQUIRED_SCOPES, SlackConfig

EVENTS_PATH = "/bridges/slack/events"


def request_url(public_url: str | None) -> str | None:
    return public_url.rstrip("/") + EVENTS_PATH if public_url else None


async def run_checks(api: SlackApi, config: SlackConfig, public_url: str | None, *,
                     app_api: SlackApi | None = None) -> list[Finding]:
    """The bot token and its scopes, the channel, and how replies arrive: Socket Mode (through
    ``app_api``, the app-level token's client) or the Events API at ``public_url``."""
    findings: list[Finding] = []
    try:
        me = await api.call("auth.test")
    except SlackError as exc:
        findings.append(Finding(False, "bot token", f"auth.test failed: {exc.error}",
                                fix="Copy the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions "
                                    "page and run `pocketping bridge add` again with it."))
        return findings
    bot = str(me.get("user") or "your bot")
    findings.append(Finding(True, "bot token", f"connected as @{bot} in the {me.get('team')} workspace"))

    scopes = api.last_scopes
    if scopes is not None:
        missing = [scope for scope in REQUIRED_SCOPES if scope not in scopes]
        if missing:
            findings.append(Finding(False, "scopes", f"the bot token lacks {', '.join(missing)}",
                                    fix="Add these Bot Token Scopes on the app's OAuth & Permissions page, then "
                                        "click Reinstall to Workspace (the token stays the same)."))
        else:
            findings.append(Finding(True, "scopes", "the bot token has every scope the bridge needs"))

    findings.extend(await _channel(api, config.channel_id, bot))
    findings.append(await _receiving(app_api, public_url))
    return findings


async def _channel(api: SlackApi, channel_id: str, bot: str) -> list[Finding]:
    try:
        info = await api.call("conversations.info", channel=channel_id)
    except SlackError as exc:
        if exc.error == "channel_not_found":
            return [Finding(False, "channel", f"channel {channel_id} was not found",
                            fix="Check the channel id (open the channel's details: it is at the bottom of the "
                                f"About tab). A private channel is only visible once the bot is in it: "
                                f"type /invite @{bot} there.")]
        return [Finding(False, "channel", f"conversations.info failed: {exc.error}",
                        fix="Give the bot the channels:read and groups:read scopes and reinstall the app.")]
    channel = info.get("channel") or {}
    name = f"#{channel.get('name') or channel_id}"
    findings = []
    if channel.get("is_archived"):
        findings.append(Finding(False, "channel", f"{name} is archived",
                                fix="Unarchive it, or add the bridge again with another --channel-id."))
    if channel.get("is_member"):
        findings.append(Finding(True, "channel", f"the bot is a member of {name}"))
    else:
        findings.append(Finding(False, "channel", f"the bot is not a member of {name}, so it can neither "
                                                        "post there nor hear replies",
                                fix=f"In {name}, type /invite @{bot} (or use the channel's Integrations tab)."))
    return findings


async def _receiving(app_api: SlackApi | None, public_url: str | None) -> Finding:
    if app_api is not None:
        try:
            await app_api.call("apps.connections.open")
        except SlackError as exc:
            return Finding(False, "socket mode", f"apps.connections.open failed: {exc.error}",
                           fix="Turn on Socket Mode in the app's settings and create an app-level token with the "
                               "connections:write scope (Basic Information, App-Level Tokens); pass it as "
                               "--app-token xapp-...")
        return Finding(True, "socket mode", "the app-level token opens Socket Mode connections: replies "
                                                  "arrive without a public URL")
    url = request_url(public_url)
    if url is None:
        return Finding(False, "events", "POCKETPING_PUBLIC_URL is not set, so Slack cannot deliver replies "
                                              "to this server",
                       fix="Set POCKETPING_PUBLIC_URL to the server's public https address and use "
                           f"<that address>{EVENTS_PATH} as the Request URL under Event Subscriptions, or use "
                           "Socket Mode (--app-token xapp-...).")
    if not url.startswith("https://"):
        return Finding(False, "events", f"Slack only delivers events to https addresses, not {url}",
                       fix="Serve PocketPing over https (a reverse proxy or --ssl-certfile) and set "
                           "POCKETPING_PUBLIC_URL to the https address.")
    return Finding(True, "events", f"the Request URL to set under Event Subscriptions is {url} (subscribe "
                                         "to the bot events message.channels and message.groups)")
