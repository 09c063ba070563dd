"""Every word the inbox shows, per locale (the page and its script read the same table)."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app": "PocketPing inbox",
        "inbox": "Inbox",
        "email": "Email",
        "password": "Password",
        "signIn": "Sign in",
        "signOut": "Sign out",
        "signedInAs": "Signed in as",
        "wrongCredentials": "Wrong email or password.",
        "rateLimited": "Too many failed sign-ins. Try again in {minutes} min.",
        "formExpired": "The sign-in form expired. Please sign in again.",
        "signInHint": "No account yet? The server's administrator adds operators with",
        "conversations": "Conversations",
        "noConversations": "No conversations yet. They appear here as soon as a visitor writes.",
        "selectConversation": "Select a conversation to read it and reply.",
        "olderConversations": "Show older conversations",
        "closed": "Closed",
        "unread": "{n} unread",
        "reply": "Reply",
        "send": "Send",
        "close": "Close conversation",
        "reopen": "Reopen conversation",
        "ai": "AI answers",
        "typing": "{name} is typing…",
        "visitor": "Visitor",
        "aiSender": "AI",
        "via": "{name} (via {source})",
        "seen": "Seen",
        "messages": "Messages",
        "details": "Details",
        "event": "Event: {name}",
        "reconnecting": "Connection lost. Reconnecting…",
        "failed": "Could not do that: {reason}",
        "project": "Project",
        "page": "Page",
        "referrer": "Came from",
        "browser": "Browser",
        "os": "System",
        "device": "Device",
        "language": "Language",
        "timezone": "Time zone",
        "country": "Country",
        "identityEmail": "Email",
        "started": "Started",
        "status": "Status",
        "active": "Active",
        "search": "Search messages and visitors",
        "searchButton": "Search",
        "searchResults": "Search results",
        "searchClear": "Back to conversations",
        "searching": "Searching…",
        "noResults": "Nothing found for “{q}”.",
        "resultCount": "{n} found for “{q}”.",
    },
}

DEFAULT_LOCALE = "en"


def strings(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    return STRINGS.get(locale, STRINGS[DEFAULT_LOCALE])
