"""Tables. Alembic migrations under ``migrations/`` create exactly these; a test checks it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from pocketping.store.types import BigId, JSONText, LongText, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    },
)

ID = 40  # length of our prefixed ids

# Ids and keys are case-sensitive: MySQL/MariaDB must compare them byte for byte.
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}

projects = Table(
    "projects",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("public_key", String(64), nullable=False, unique=True),
    Column("secret_key_hash", String(64), nullable=False, unique=True),
    Column("secret_key_hint", String(16), nullable=False),
    Column("allowed_origins", JSONText, nullable=False),
    Column("settings", JSONText, nullable=False),
    Column("identity_secret", Text, nullable=True),  # encrypted
    Column("is_demo", Boolean, nullable=False, default=False),
    Column("operator_status", String(16), nullable=False, default="auto"),
    Column("operator_active_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    **MYSQL,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("meta", LongText, nullable=False),  # encrypted JSON (page, browser, language, screen, time zone)
    Column("identity", Text, nullable=True),  # encrypted JSON
    Column("ip", Text, nullable=True),  # encrypted
    Column("country", Text, nullable=True),  # encrypted
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_activity", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("first_message_at", UTCDateTime, nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("visitor_read_seq", Integer, nullable=False, default=0),
    Column("operator_read_seq", Integer, nullable=False, default=0),
    Column("ai_enabled", Boolean, nullable=False, default=True),
    Column("ai_due_at", UTCDateTime, nullable=True),
    Column("ai_reply_count", Integer, nullable=False, default=0),
    # The operator the conversation is assigned to (operators.id; cleared when they are removed).
    Column("assignee_id", String(ID), nullable=True),
    # Since when the visitor's latest message waits for an answer (None: answered, or closed).
    Column("waiting_since", UTCDateTime, nullable=True),
    # The visitor's rating once the conversation closed: stars 1-5, or thumbs 0 (down) / 1 (up).
    Column("rating_score", Integer, nullable=True),
    Column("rating_scale", String(8), nullable=True),
    Column("rating_comment", Text, nullable=True),  # encrypted
    Column("rated_at", UTCDateTime, nullable=True),
    # When the team (or the AI) first answered: the first-response time of `pocketping stats`.
    Column("first_response_at", UTCDateTime, nullable=True),
    # The visitor's answer to the project's consent text (``--consent``): "accepted" and when.
    # With ``--consent required`` no metadata, address or country is stored before it.
    Column("consent", String(16), nullable=True),
    Column("consent_at", UTCDateTime, nullable=True),
    # Kept by the transaction that changes them, for the inbox list (no per-row aggregate): the
    # seq of the latest chat message (0: none), and the visitor's messages after operator_read_seq.
    Column("last_message_seq", Integer, nullable=False, default=0),
    Column("operator_unread", Integer, nullable=False, default=0),
    UniqueConstraint("project_id", "visitor_id"),
    Index(None, "project_id", "status", "last_activity"),
    Index(None, "ai_due_at"),
    **MYSQL,
)
# Lists of sessions, newest activity first, paged by a (last_activity, id) row-value cursor.
Index("ix_sessions_project_activity", sessions.c.project_id, sessions.c.last_activity.desc(), sessions.c.id.desc())

messages = Table(
    "messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("session_id", String(ID), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    # "message" (chat text), "event" (custom event; text holds its JSON data), "notice" (system line)
    Column("kind", String(16), nullable=False),
    Column("sender", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("name", String(64), nullable=True),
    Column("text", LongText, nullable=False),  # encrypted
    Column("operator_name", String(200), nullable=True),
    Column("client_id", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("edited_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("attachments", Text, nullable=True),  # encrypted JSON: the files' names, sizes, types
    Column("history", LongText, nullable=True),  # encrypted JSON: the earlier texts of an edited message
    UniqueConstraint("session_id", "seq"),
    UniqueConstraint("session_id", "client_id"),
    **MYSQL,
)

# Stored files (attachments). The bytes are in the blob store (POCKETPING_STORAGE_URL),
# sealed; a row exists only once its blob is complete. ``message_id`` is set when a message
# names the file; unattached uploads are removed after a day.
files = Table(
    "files",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(ID), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
    Column("message_id", String(ID), nullable=True),
    Column("uploader", String(32), nullable=False),  # visitor | api | inbox | telegram | discord | slack
    Column("name", Text, nullable=False),  # encrypted
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("blob", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "project_id"),
    Index(None, "session_id"),
    Index(None, "message_id"),
    Index(None, "created_at"),
    **MYSQL,
)

# The blind search index: per normalized word (prefixes, see core.search) of a chat message or
# of the visitor's name and email (message_id NULL), a keyed hash; never the word itself.
search_terms = Table(
    "search_terms",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_id", String(ID), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(ID), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("term", String(24), nullable=False),
    Index(None, "term", "session_id"),
    Index(None, "session_id"),
    Index(None, "message_id"),
    **MYSQL,
)

# Saved replies: per project, a shortcut (``/r SHORTCUT`` in a thread, ``/`` in the inbox) and
# the text it stands for ({name} and {email} are filled from the visitor's identity).
saved_replies = Table(
    "saved_replies",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("shortcut", String(64), nullable=False),
    Column("text", LongText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "shortcut"),
    **MYSQL,
)

# The durable delivery queue shared by bridges and webhooks: rows are written in the
# same transaction as the change they deliver.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("project_id", String(ID), nullable=False),
    Column("session_id", String(ID), nullable=True),
    Column("message_id", String(ID), nullable=True),
    Column("target", String(16), nullable=False),  # "bridge" | "webhook" | ...
    Column("target_id", String(ID), nullable=False),
    Column("action", String(32), nullable=False),
    Column("payload", LongText, nullable=False),  # encrypted JSON
    Column("status", String(12), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", JSONText, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "target_id", "session_id", "status", "id"),
    **MYSQL,
)

bridges = Table(
    "bridges",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(16), nullable=False),
    Column("config", Text, nullable=False),  # encrypted JSON (tokens, ids)
    Column("status", String(16), nullable=False),
    Column("status_detail", Text, nullable=True),
    Column("state", JSONText, nullable=False),  # offsets, gateway resume data
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "project_id"),
    **MYSQL,
)

bridge_threads = Table(
    "bridge_threads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bridge_id", String(ID), ForeignKey("bridges.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(ID), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("bridge_id", "session_id"),
    Index(None, "bridge_id", "external_id"),
    **MYSQL,
)

bridge_messages = Table(
    "bridge_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bridge_id", String(ID), ForeignKey("bridges.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(ID), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "bridge_id", "external_id"),
    Index(None, "message_id"),
    **MYSQL,
)

# Inbound deduplication (Telegram update_id, Slack event_id, Discord message id, ...).
inbound_seen = Table(
    "inbound_seen",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    **MYSQL,
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", JSONText, nullable=False),
    Column("secret", Text, nullable=False),  # encrypted
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "project_id"),
    **MYSQL,
)

# Public events (what webhooks and the SDK's stream carry). ``seq`` is allocated per project
# under the row lock of ``event_counters`` held until commit, so a reader that sees seq N has
# seen (or will never see) every smaller one: the stream's durable, loss-free cursor.
# Pruned after POCKETPING_EVENT_RETENTION_DAYS.
event_log = Table(
    "event_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(ID), nullable=False, unique=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("session_id", String(ID), nullable=True),
    Column("type", String(40), nullable=False),
    Column("payload", LongText, nullable=False),  # encrypted JSON (the webhook body)
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "seq"),
    Index(None, "session_id"),
    Index(None, "created_at"),
    **MYSQL,
)

event_counters = Table(
    "event_counters",
    metadata,
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    **MYSQL,
)

operators = Table(
    "operators",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Mail when nobody is online: "email" or NULL (none); after how many seconds a visitor's
    # message still unanswered is mailed (docs/email.md).
    Column("notify", String(8), nullable=True),
    Column("notify_after", Integer, nullable=True),
    **MYSQL,
)

operator_projects = Table(
    "operator_projects",
    metadata,
    Column("operator_id", String(ID), ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    **MYSQL,
)

ai_settings = Table(
    "ai_settings",
    metadata,
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False, default=False),
    Column("delay_seconds", Integer, nullable=False, default=120),
    Column("provider", String(16), nullable=False, default="openai"),
    Column("model", String(200), nullable=True),
    Column("base_url", Text, nullable=True),
    Column("api_key_env", String(200), nullable=True),
    Column("api_key", Text, nullable=True),  # encrypted
    Column("system_prompt", LongText, nullable=True),
    Column("options", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime, nullable=True),
    **MYSQL,
)

# AI replies and model failures per project and UTC day (the daily cap, `pocketping ai show`).
ai_usage = Table(
    "ai_usage",
    metadata,
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("replies", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    # Tokens the providers reported (usage fields): the chat calls' input and output, the
    # question's embedding. ``limit_told_at``: when the team was told the AI stopped for the
    # day (a daily cap or the token budget), so it is told once.
    Column("input_tokens", BigInteger, nullable=False, default=0, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, default=0, server_default="0"),
    Column("embedding_tokens", BigInteger, nullable=False, default=0, server_default="0"),
    Column("limit_told_at", UTCDateTime, nullable=True),
    **MYSQL,
)

# The knowledge base: sources (a URL, a file, a text), their chunks, and an inverted index
# (term frequencies per chunk) that BM25 ranks in Python, the same way on every backend.
kb_sources = Table(
    "kb_sources",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # url | file | text | site
    Column("location", Text, nullable=False),  # the URL, the file's absolute path, or a name
    Column("location_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),  # encrypted
    Column("content_type", String(100), nullable=False),
    Column("status", String(12), nullable=False),  # ready | error
    Column("error", Text, nullable=True),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("size_bytes", Integer, nullable=False, default=0),
    Column("content_hash", String(64), nullable=True),
    Column("fetched_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # A crawled site (kind "site") holds its options in ``crawl`` (JSON); its pages (kind "url")
    # point at it and keep the validators of their last answer for conditional re-fetches.
    Column("parent_id", String(ID), nullable=True),
    Column("etag", String(300), nullable=True),
    Column("last_modified", String(100), nullable=True),
    Column("crawl", Text, nullable=True),
    UniqueConstraint("project_id", "location_hash"),
    Index(None, "parent_id"),
    **MYSQL,
)

kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source_id", String(ID), ForeignKey("kb_sources.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", String(ID), nullable=False),
    Column("ord", Integer, nullable=False),
    Column("heading", Text, nullable=False),  # encrypted
    Column("text", LongText, nullable=False),  # encrypted
    Column("length", Integer, nullable=False),  # indexed terms, for BM25's length normalisation
    # The chunk's embedding (little-endian float32 at unit length, in base64: a text column
    # because aiomysql cannot send bytes parameters) and the model that made it.
    Column("embedding", LongText, nullable=True),
    Column("embedding_model", String(200), nullable=True),
    Index(None, "project_id"),
    Index(None, "source_id", "ord"),
    **MYSQL,
)

kb_terms = Table(
    "kb_terms",
    metadata,
    Column("chunk_id", BigId, ForeignKey("kb_chunks.id", ondelete="CASCADE"), primary_key=True),
    Column("term", String(64), primary_key=True),  # a keyed hash of the term, never the word
    Column("project_id", String(ID), nullable=False),
    Column("tf", Integer, nullable=False),
    Index(None, "project_id", "term"),
    **MYSQL,
)

# Small key/value table: the configuration version that running servers poll, and such.
server_state = Table(
    "server_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    **MYSQL,
)

# Web inbox sign-ins: the cookie holds a random token; only its SHA-256 is stored.
inbox_logins = Table(
    "inbox_logins",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie token
    Column("operator_id", String(ID), ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "operator_id"),
    Index(None, "expires_at"),
    **MYSQL,
)

# Failed inbox sign-ins, for rate limiting per account and per address across restarts and
# nodes. ``key`` is a keyed hash of "account:<email>" or "ip:<address>": no address is stored.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "key", "created_at"),
    Index(None, "created_at"),
    **MYSQL,
)

# Several nodes: who is running (a heartbeat per process), and who holds each single
# platform connection (a lease with an expiry and a fencing token that grows with every holder).
nodes = Table(
    "nodes",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("redis", Boolean, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    **MYSQL,
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("holder", String(80), nullable=True),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    **MYSQL,
)

# Mail to a visitor who left an address (docs/email.md), one row per session: the highest reply
# seq already mailed (a burst of replies is one mail, a reply is never mailed twice), whether
# they unsubscribed, whether they asked for the transcript, and the SHA-256 of the token of
# their reply address (reply+<token>@POCKETPING_REPLY_DOMAIN), and their consent.
mail_recipients = Table(
    "mail_recipients",
    metadata,
    Column("session_id", String(ID), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("mailed_seq", Integer, nullable=False, default=0),
    Column("unsubscribed_at", UTCDateTime, nullable=True),
    Column("transcript_wanted", Boolean, nullable=False, default=False),
    Column("reply_token_hash", String(64), nullable=True, unique=True),
    # Consent: when the visitor left their address under the project's consent line, and its text.
    Column("consent_at", UTCDateTime, nullable=True),
    Column("consent_text", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "project_id"),
    **MYSQL,
)

# Erasures (docs/erasure.md): what an erase removed and, per platform and for the stored files,
# what was deleted there and what could not be (and why). Nothing here names the visitor: the
# platform ids to delete travel in the outbox rows (encrypted) and are gone once done.
erasures = Table(
    "erasures",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(16), nullable=False),  # "request" | "retention"
    Column("sessions", Integer, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "project_id"),
    **MYSQL,
)

erasure_steps = Table(
    "erasure_steps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("erasure_id", String(ID), ForeignKey("erasures.id", ondelete="CASCADE"), nullable=False),
    Column("target", String(16), nullable=False),  # "telegram" | "discord" | "slack" | "files"
    Column("target_id", String(ID), nullable=False),  # the bridge id, or "files"
    Column("status", String(12), nullable=False),  # pending | done | partial | failed
    Column("outcome", JSONText, nullable=True),  # {"deleted": {...counts}, "kept": [reasons]}
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "erasure_id"),
    **MYSQL,
)
