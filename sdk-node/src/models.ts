/**
 * The JSON the server sends, as TypeScript types: each interface is exactly one schema of the
 * server's `/openapi.json` (a test compares them field by field), camelCase as on the wire.
 * Times are ISO 8601 strings (`2026-11-24T23:23:55.533Z`).
 */

export type JsonObject = Record<string, unknown>;

/** The public event types (what webhooks and the stream carry). */
export type PublicEventType =
  | "session.created"
  | "session.closed"
  | "session.reopened"
  | "message.created"
  | "event.triggered"
  | "visitor.identified"
  | "session.assigned"
  | "session.rated";

export const PUBLIC_EVENT_TYPES: readonly PublicEventType[] = [
  "session.created",
  "session.closed",
  "session.reopened",
  "message.created",
  "event.triggered",
  "visitor.identified",
  "session.assigned",
  "session.rated",
];

/** Who a session's visitor is, when the page (or your backend) identified them. Schema `Identity`. */
export interface Identity {
  id: string;
  email?: string | null;
  name?: string | null;
  traits?: JsonObject;
  verified?: boolean;
}

/** One conversation. Schema `SessionOut`. */
export interface Session {
  id: string;
  projectId: string;
  visitorId: string;
  status: "active" | "closed";
  /** page url, title, referrer, language, browser ...; `country` and `ip` when the project collects them */
  metadata: JsonObject;
  identity?: Identity | null;
  createdAt: string;
  lastActivity: string;
  closedAt?: string | null;
  lastSeq: number;
  visitorReadSeq: number;
  operatorReadSeq: number;
  aiEnabled: boolean;
  /** the operator the conversation is assigned to (an operator id), null when unassigned */
  assigneeId?: string | null;
  /** since when the visitor's latest message waits for an answer; null when answered or closed */
  waitingSince?: string | null;
  /** the visitor's rating once the conversation closed: `scale` "stars" (score 1-5) or "thumbs" (0 or 1) */
  rating?: { score: number; scale: "stars" | "thumbs"; comment?: string | null; ratedAt: string } | null;
}

export type Sender = "visitor" | "operator" | "ai" | "system";

/** A message (or, with `includeEvents`, a stored custom event). Schema `MessageOut`. */
/** A stored file a message carries; `url` is a signed link relative to the server (about a day). */
export interface Attachment {
  id: string;
  name: string;
  size: number;
  contentType: string;
  width?: number | null;
  height?: number | null;
  url: string;
}

export interface Message {
  id: string;
  sessionId: string;
  seq: number;
  kind: "message" | "event" | "notice" | "note";
  sender: Sender;
  source: string;
  text: string;
  operatorName?: string | null;
  clientId?: string | null;
  createdAt: string;
  editedAt?: string | null;
  deletedAt?: string | null;
  name?: string | null;
  data?: JsonObject | null;
  /** the files the message carries (`[]` when none) */
  attachments?: Attachment[];
  /** true for an internal note of the team (kind "note"), never shown to the visitor */
  internal?: boolean | null;
}

/**
 * A custom event from a page (`PocketPing.trigger(name, data)`), as your `onEvent` handlers get
 * it. `id` is the id of the public event that carried it (the same on every delivery).
 */
export interface Event {
  id: string;
  name: string;
  data: JsonObject;
  sessionId: string | null;
  visitorId: string | null;
  createdAt: string;
  /** the position in the project's event log (the stream; null in webhooks) */
  seq: number | null;
}

/** Another name for {@link Event}, as in the Python SDK. */
export type CustomEvent = Event;

/**
 * A custom event your backend sent (`emitEvent`, `emitEventToVisitor`, `broadcastEvent`).
 * Schemas `EventOut` and `SentEventOut`; a broadcast has `sessionId` and `seq` null.
 */
export interface SentEvent {
  id: string;
  sessionId: string | null;
  seq: number | null;
  name: string | null;
  data: JsonObject | null;
  sender: string;
  createdAt: string;
  broadcast?: boolean;
}

/**
 * What a webhook or the stream carries: `{id, type, createdAt, projectId, data}` (plus `seq` on
 * the stream). `id` is the same on every retry of the same event: deduplicate on it. Schema
 * `PublicEvent`.
 */
export interface WebhookEvent {
  id: string;
  type: PublicEventType | string;
  createdAt: string;
  projectId: string;
  data: JsonObject;
  seq?: number | null;
}

/** A webhook endpoint; `secret` only when created. Schemas `WebhookOut` and `WebhookCreated`. */
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt: string;
  secret?: string;
}

/** One delivery of an event to an endpoint. Schema `DeliveryOut`. */
export interface Delivery {
  id: number;
  webhookId: string;
  eventId: string | null;
  type: string;
  sessionId: string | null;
  status: "pending" | "done" | "failed";
  attempts: number;
  lastError: string | null;
  responseStatus: number | null;
  durationMs: number | null;
  createdAt: string;
  nextAttemptAt: string | null;
  finishedAt: string | null;
}

/** The project the secret key belongs to. Schema `ProjectOut`. */
export interface Project {
  id: string;
  name: string;
  publicKey: string;
  secretKeyHint: string;
  allowedOrigins: string[];
  widget: JsonObject;
  collectCountry: boolean;
  storeIp: boolean;
  notifyEvents: string[];
  identityVerification: boolean;
  /** off | notice | required (project update --consent). */
  consent: string;
  createdAt: string;
  updatedAt: string;
}

/** A page of sessions, most recently active first. Schema `SessionList`. */
export interface SessionList {
  sessions: Session[];
  /** pass as `cursor` for the next page; null when this was the last */
  nextCursor?: string | null;
}

/** A page of messages in `seq` order. Schema `MessageList`. */
export interface MessageList {
  messages: Message[];
  nextCursor?: string | null;
}

/** Public events after a cursor, oldest first. Schema `PublicEventList`. */
export interface EventList {
  events: WebhookEvent[];
  /** pass as `after` for the next page; null when this was the last */
  nextCursor: string | null;
  /** the seq of the last event returned, or `after` when none was */
  lastSeq: number;
}

/** What `eraseSession` removed. Schema `SessionErasureOut`. */
export interface SessionErasure {
  sessionId: string;
  deleted: Record<string, number>;
  /** follow the deletion of the copies in the chat apps: `getErasure(eraseId)` */
  eraseId: string;
}

/** What `eraseVisitor` removed. Schema `ErasureOut`. */
export interface VisitorErasure {
  visitorId: string;
  deleted: Record<string, number>;
  /** follow the deletion of the copies in the chat apps: `getErasure(eraseId)` */
  eraseId: string;
}

/** One platform's (or the file store's) part of an erasure. Schema `ErasureStepOut`. */
export interface ErasureStep {
  /** "telegram", "discord", "slack" or "files" */
  target: string;
  /** the bridge id, or "files" */
  targetId: string;
  /** pending (retried while the platform is down), done, partial or failed */
  status: string;
  deleted: Record<string, number>;
  /** what the platform kept against the request, and why */
  kept: string[];
  updatedAt: string;
  note?: string | null;
  attempts?: number | null;
  /** while pending: why the last attempt failed */
  error?: string | null;
}

/** Where an erasure stands. Schema `ErasureStatusOut`. */
export interface Erasure {
  eraseId: string;
  projectId: string;
  /** "request" or "retention" */
  reason: string;
  createdAt: string;
  /** pending, done, or incomplete */
  status: string;
  deleted: Record<string, number>;
  platforms: ErasureStep[];
}

/** When the visitor left their address under the project's consent line, and its text. Schema `ConsentOut`. */
export interface Consent {
  at: string;
  text: string;
}

/** The visitor's answer to the consent text (project update --consent). Schema `PrivacyConsentOut`. */
export interface PrivacyConsent {
  choice: string;
  at: string;
}

/** One session in a visitor's export. Schema `ExportSession`. */
export interface ExportedSession {
  session: Session;
  messages: Message[];
  consent: Consent | null;
  privacyConsent: PrivacyConsent | null;
}

/** Everything stored about a visitor. Schema `ExportOut`. */
export interface VisitorExport {
  visitorId: string;
  exportedAt: string;
  sessions: ExportedSession[];
}

/** What `identify` attaches to a session. */
export interface IdentityInput {
  /** your user's id, 1-200 characters */
  id: string;
  email?: string | null;
  name?: string | null;
  /** anything else worth showing to the team (a JSON object of at most 4 KB) */
  traits?: JsonObject;
}
