"""``pocketping doctor`` for Telegram: real calls, plain-words fixes."""

from __future__ import annotations

from typing import Any

from pocketping.bridges.base import Finding
from pocketping.bridges.telegram.api import TelegramApi, TelegramError
from pocketping.errors import DeliveryError

UPDATE_TOKEN = "pocketping bridge update {project} {bridge} --bot-token NEW_TOKEN"  # noqa: S105


async def run_checks(api: TelegramApi, *, project_id: str, bridge_id: str, chat_id: int, webhook: bool,
                     webhook_url: str | None) -> list[Finding]:
    """The bot token, the group (a forum, the bot an admin who may manage topics), and how
    updates arrive (``webhook``: Telegram should be calling ``webhook_url``)."""
    found: list[Finding] = []
    try:
        me: dict[str, Any] = await api.call("getMe")
    except TelegramError as exc:
        fix = ("Telegram does not know this bot token. In Telegram, open @BotFather, send /mybots, pick your bot, "
               "API Token, and copy it into: " + UPDATE_TOKEN.format(project=project_id, bridge=bridge_id))
        return [Finding(False, "bot token", exc.message, fix if exc.bad_token else None)]
    except DeliveryError as exc:
        return [Finding(False, "Telegram reachable", exc.message,
                        f"Check that this machine can reach {api.base_url} (proxy, firewall, "
                        "DNS), or set POCKETPING_TELEGRAM_API_URL for a self-hosted Bot API server.")]
    username = me.get("username", "?")
    found.append(Finding(True, "bot token", f"the token belongs to @{username}"))
    try:
        chat: dict[str, Any] = await api.call("getChat", {"chat_id": chat_id})
    except DeliveryError as exc:
        found.append(Finding(False, "group", exc.message,
                             f"Add @{username} to your group, then check the chat id: open the group in "
                             "web.telegram.org, the address ends with #-100...; that number is the id. Fix it with: "
                             f"pocketping bridge update {project_id} {bridge_id} --chat-id=-100..."))
        return found
    title = chat.get("title", "?")
    if chat.get("type") != "supergroup" or not chat.get("is_forum"):
        found.append(Finding(False, "topics", f"“{title}” does not have Topics turned on",
                             "In the group: Edit (pencil) > Topics > on. This makes it a forum supergroup; its id "
                             "then starts with -100 (run pocketping bridge update ... --chat-id=-100... if it "
                             "changed)."))
    else:
        found.append(Finding(True, "topics", f"“{title}” is a forum supergroup"))
    try:
        member: dict[str, Any] = await api.call("getChatMember", {"chat_id": chat_id, "user_id": me["id"]})
    except DeliveryError as exc:
        member = {"status": "unknown", "error": exc.message}
    admin = member.get("status") in ("administrator", "creator")
    if admin and (member.get("status") == "creator" or member.get("can_manage_topics")):
        found.append(Finding(True, "permissions", f"@{username} is an admin who may manage topics"))
    else:
        found.append(Finding(False, "permissions", f"@{username} is {member.get('status', 'not a member')}, "
                             "without the Manage Topics right",
                             f"In the group: Edit > Administrators > Add Admin > @{username}, and turn on "
                             "'Manage Topics' (and 'Delete Messages' if you like)."))
    if not admin and not me.get("can_read_all_group_messages"):
        found.append(Finding(False, "privacy mode", "the bot only sees commands and replies to it",
                             "Make the bot an admin (above), or in @BotFather: /setprivacy > your bot > Disable, "
                             "then remove and re-add the bot to the group."))
    found.extend(await _delivery_mode(api, webhook, webhook_url))
    return found


async def _delivery_mode(api: TelegramApi, webhook: bool, expected: str | None) -> list[Finding]:
    try:
        info: dict[str, Any] = await api.call("getWebhookInfo")
    except DeliveryError as exc:
        return [Finding(False, "updates", exc.message)]
    if not webhook:
        note = " (a webhook is set: the server removes it when it starts)" if info.get("url") else ""
        return [Finding(True, "updates", f"long polling: no public URL needed{note}")]
    if expected is None or not expected.startswith("https://"):
        return [Finding(False, "updates", f"webhook mode, but the URL would be {expected}",
                        "Telegram only calls https:// addresses: set POCKETPING_PUBLIC_URL=https://your.domain, or "
                        "POCKETPING_TELEGRAM_MODE=polling.")]
    if info.get("url") != expected:
        return [Finding(False, "updates", f"the webhook is {info.get('url') or 'not set'}, expected {expected}",
                        "Start (or restart) pocketping serve with POCKETPING_PUBLIC_URL set: it sets the webhook.")]
    if info.get("last_error_message"):
        return [Finding(False, "updates", f"Telegram could not call the webhook: {info['last_error_message']}",
                        f"Make sure {expected} is reachable from the internet (reverse proxy, TLS certificate).")]
    return [Finding(True, "updates", f"webhook {expected}, {info.get('pending_update_count', 0)} pending")]
