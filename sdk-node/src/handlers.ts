/** Handlers of incoming events and how an event is matched to them (shared by webhooks and the stream). */

import type { Event, Message, Session, WebhookEvent } from "./models.js";
import { PUBLIC_EVENT_TYPES } from "./models.js";

type Awaitable<T> = T | Promise<T>;

/** Gets a page's custom event (`PocketPing.trigger`) and the session it came from. */
export type EventHandler = (event: Event, session: Session) => Awaitable<unknown>;
/** Gets a new message and its session. */
export type MessageHandler = (message: Message, session: Session) => Awaitable<unknown>;
/** Gets a public event (`session.closed` ...) and the session it is about, when it has one. */
export type WebhookEventHandler = (event: WebhookEvent, session: Session | undefined) => Awaitable<unknown>;

export type Handler =
  | { kind: "event"; match: string | undefined; fn: EventHandler }
  | { kind: "message"; match: string | undefined; fn: MessageHandler }
  | { kind: "public"; match: string; fn: WebhookEventHandler };

/** One call to make: the handler, its first argument, and where its session comes from. */
export interface PlannedCall {
  handler: Handler;
  arg: Event | Message | WebhookEvent;
  sessionId: string | undefined;
}

export function isPublicType(name: string): boolean {
  return (PUBLIC_EVENT_TYPES as readonly string[]).includes(name);
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** The custom event an `event.triggered` carries. */
export function customEventOf(event: WebhookEvent): Event {
  const d = event.data;
  return {
    id: event.id,
    name: String(d["name"]),
    data: (d["data"] as Record<string, unknown> | undefined) ?? {},
    sessionId: text(d["sessionId"]),
    visitorId: text(d["visitorId"]),
    createdAt: text(d["createdAt"]) ?? event.createdAt,
    seq: event.seq ?? null,
  };
}

/** The message a `message.created` carries. */
export function messageOf(event: WebhookEvent): Message {
  return event.data["message"] as Message;
}

/** The session snapshot an event carries (every type but `event.triggered`). */
export function sessionOf(event: WebhookEvent): Session | undefined {
  const value = event.data["session"];
  return typeof value === "object" && value !== null ? (value as Session) : undefined;
}

/** Which handlers get this event, and with what. */
export function plan(handlers: readonly Handler[], event: WebhookEvent): PlannedCall[] {
  const calls: PlannedCall[] = [];
  const sessionId = text(event.data["sessionId"]) ?? undefined;
  for (const handler of handlers) {
    if (handler.kind === "public" && handler.match === event.type) {
      calls.push({ handler, arg: event, sessionId });
    } else if (handler.kind === "event" && event.type === "event.triggered") {
      const custom = customEventOf(event);
      if (handler.match === undefined || handler.match === custom.name) {
        calls.push({ handler, arg: custom, sessionId: custom.sessionId ?? undefined });
      }
    } else if (handler.kind === "message" && event.type === "message.created") {
      const message = messageOf(event);
      if (handler.match === undefined || handler.match === message.sender) {
        calls.push({ handler, arg: message, sessionId: message.sessionId ?? sessionId });
      }
    }
  }
  return calls;
}

/**
 * Whether a handler wants the session (its second parameter): `(event) => ...` does not, so
 * no request is made for it. A function whose arity JavaScript cannot tell (rest parameters,
 * defaults) gets it.
 */
export function wantsSession(fn: (...args: never[]) => unknown): boolean {
  return fn.length !== 1;
}

/** Remembers the ids of the events already handled (deliveries are at least once). */
export class SeenIds {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.limit) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }
}
