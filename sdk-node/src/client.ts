/** The client: `new PocketPing({ secretKey, baseUrl, onEvent?, timeoutMs?, retries? })`. */

import { randomUUID } from "node:crypto";

import { APIConnectionError, PocketPingError, errorFromResponse } from "./errors.js";
import type { EventHandler, Handler, MessageHandler, WebhookEventHandler } from "./handlers.js";
import { SeenIds, isPublicType, plan, sessionOf, wantsSession } from "./handlers.js";
import type { Call, Transport } from "./http.js";
import { RETRY_STATUSES, backoffMs, buildUrl, linkedController, send, sleep } from "./http.js";
import type {
  Delivery, Erasure, EventList, IdentityInput, JsonObject, Message, MessageList, Project, PublicEventType, SentEvent,
  Session,
  SessionErasure, SessionList, Sender, VisitorErasure, VisitorExport, Webhook, WebhookEvent,
} from "./models.js";
import type { ExpressMiddleware, FastifyPlugin, FetchHandler, ReceiverOptions } from "./receivers.js";
import { expressMiddleware, fastifyPlugin, requestHandler } from "./receivers.js";
import type { RawBody, SignatureSource, VerifyOptions } from "./signing.js";
import { userHash, verifyWebhook } from "./signing.js";
import { SSEParser } from "./sse.js";
import { VERSION } from "./version.js";

/** Where log lines go (`console` unless you give your own). */
export interface Logger {
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface PocketPingOptions {
  /** the project's secret key, `sk_live_...` (default: `POCKETPING_SECRET_KEY`) */
  secretKey?: string;
  /** where your PocketPing server is, e.g. `https://chat.example.com` (default: `POCKETPING_URL`) */
  baseUrl?: string;
  /** a handler for every custom event from your pages, as `onEvent(handler)` */
  onEvent?: EventHandler;
  /** the endpoint's signing secret `whsec_...`, or several during a rotation (default: `POCKETPING_WEBHOOK_SECRET`) */
  webhookSecret?: string | readonly string[];
  /** the project's identity secret, for `userHash` (default: `POCKETPING_IDENTITY_SECRET`) */
  identitySecret?: string;
  /** per attempt of a request, in milliseconds (10,000) */
  timeoutMs?: number;
  /** how many times a request is sent again after a 429, a 5xx or a lost connection (3) */
  retries?: number;
  /** the first retry's delay in milliseconds (500); it doubles, with jitter, up to 30 s */
  retryBackoffMs?: number;
  /** skip an event whose id was already handled (true) */
  dedupe?: boolean;
  /** your own `fetch` (default: the global one) */
  fetch?: typeof fetch;
  logger?: Logger;
}

/** Every method takes an `AbortSignal`: aborting it cancels the request (and its retries). */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListSessionsOptions extends CallOptions {
  status?: "active" | "closed";
  /** 1-200 (50) */
  limit?: number;
  /** a page's `nextCursor` */
  cursor?: string | null;
}

export interface ListMessagesOptions extends CallOptions {
  /** only messages after this seq (0) */
  afterSeq?: number;
  /** 1-500 (100) */
  limit?: number;
  /** also the stored custom events (false) */
  includeEvents?: boolean;
}

export interface SendMessageOptions extends CallOptions {
  /** the name shown to the visitor */
  operatorName?: string;
  /** makes the call idempotent (one is generated when not given) */
  clientId?: string;
  /** ids of files uploaded with `POST /api/v1/files` (the text is then optional) */
  attachments?: string[];
}

export interface EmitEventOptions extends CallOptions {
  clientId?: string;
}

export interface ListEventsOptions extends CallOptions {
  /** a seq; 0 for the oldest kept (0) */
  after?: number;
  limit?: number;
  types?: readonly string[];
}

export interface ListDeliveriesOptions extends CallOptions {
  status?: "pending" | "done" | "failed";
  limit?: number;
}

export interface StreamOptions extends CallOptions {
  /** start after this seq (0: everything the server keeps); default: from now on */
  after?: number;
  /** only these event types */
  types?: readonly string[];
  /** reconnect after a drop (true) */
  reconnect?: boolean;
  /** called each time the stream is (re)connected, with the cursor it resumes from */
  onOpen?: (cursor: number | undefined) => void;
}

export interface ListenOptions extends StreamOptions {
  /** a handler threw for this event (default: logged; listening goes on). Throw here to stop listening. */
  onError?: (error: unknown, event: WebhookEvent) => void;
}

const STREAM_IDLE_MS = 60_000; // the server sends a ping every 15 s: a minute of silence is a dead connection

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value ? value : undefined;
}

function newClientId(): string {
  return `sdk_${randomUUID().replace(/-/g, "")}`;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

/**
 * A client for a PocketPing server's REST API, its webhooks and its live event stream.
 *
 * ```js
 * const pp = new PocketPing({ secretKey: "sk_live_...", baseUrl: "https://chat.example.com" });
 * ```
 */
export class PocketPing {
  readonly baseUrl: string;
  readonly apiUrl: string;
  readonly webhookSecrets: readonly string[];
  readonly identitySecret: string | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly dedupe: boolean;
  private readonly secretKey: string;
  private readonly transport: Transport;
  private readonly handlers: Handler[] = [];
  private readonly seen = new SeenIds();
  private readonly logger: Logger;
  private closing = new AbortController();

  constructor(options: PocketPingOptions = {}) {
    const secretKey = options.secretKey ?? env("POCKETPING_SECRET_KEY");
    const baseUrl = options.baseUrl ?? env("POCKETPING_URL");
    if (!secretKey) {
      throw new TypeError("give secretKey (or set POCKETPING_SECRET_KEY): the project's sk_live_... key");
    }
    if (!baseUrl) {
      throw new TypeError("give baseUrl (or set POCKETPING_URL): where your PocketPing server is, "
        + "e.g. https://chat.example.com");
    }
    this.secretKey = secretKey;
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiUrl = `${this.baseUrl}/api/v1`;
    const webhookSecret = options.webhookSecret ?? env("POCKETPING_WEBHOOK_SECRET");
    this.webhookSecrets = (typeof webhookSecret === "string" ? [webhookSecret] : [...(webhookSecret ?? [])])
      .filter((s) => s);
    this.identitySecret = options.identitySecret ?? env("POCKETPING_IDENTITY_SECRET");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = Math.max(0, options.retries ?? 3);
    this.retryBackoffMs = options.retryBackoffMs ?? 500;
    this.dedupe = options.dedupe ?? true;
    this.logger = options.logger ?? console;
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== "function") throw new TypeError("no fetch: use Node.js 18 or newer, or pass options.fetch");
    this.transport = {
      apiUrl: this.apiUrl,
      headers: { Authorization: `Bearer ${this.secretKey}`, "User-Agent": `pocketping-sdk-node/${VERSION}`,
                 Accept: "application/json" },
      timeoutMs: this.timeoutMs,
      retries: this.retries,
      retryBackoffMs: this.retryBackoffMs,
      fetch: (input, init) => fetchFn(input, init),
    };
    if (options.onEvent) this.onEvent(options.onEvent);
  }

  private call<T>(call: Call, options?: CallOptions): Promise<T> {
    return send<T>(this.transport, call, options?.signal);
  }

  // --- REST ---------------------------------------------------------------------------------

  /** The project this secret key belongs to. */
  getProject(options?: CallOptions): Promise<Project> {
    return this.call({ method: "GET", path: "/project", idempotent: true }, options);
  }

  /** One page of sessions, most recently active first (`nextCursor` for the next). */
  listSessions(options: ListSessionsOptions = {}): Promise<SessionList> {
    const { status, limit, cursor } = options;
    return this.call({ method: "GET", path: "/sessions", query: { status, limit, cursor }, idempotent: true },
                     options);
  }

  /** Every session, page after page: `for await (const session of pp.iterSessions({ status }))`. */
  async *iterSessions(options: Omit<ListSessionsOptions, "cursor" | "limit"> = {}): AsyncGenerator<Session> {
    let cursor: string | null | undefined;
    do {
      const page = await this.listSessions({ ...options, limit: 200, cursor });
      yield* page.sessions;
      cursor = page.nextCursor;
    } while (cursor);
  }

  getSession(sessionId: string, options?: CallOptions): Promise<Session> {
    return this.call({ method: "GET", path: `/sessions/${enc(sessionId)}`, idempotent: true }, options);
  }

  /** A session's messages in `seq` order, after `afterSeq` (pass the page's `nextCursor` back as `afterSeq`). */
  listMessages(sessionId: string, options: ListMessagesOptions = {}): Promise<MessageList> {
    const query = { after_seq: options.afterSeq ?? 0, limit: options.limit ?? 100,
                    include_events: options.includeEvents ?? false };
    return this.call({ method: "GET", path: `/sessions/${enc(sessionId)}/messages`, query, idempotent: true },
                     options);
  }

  /**
   * An operator reply, shown in the widget and mirrored to the team's chat apps. Safe to retry:
   * a `clientId` (generated when not given) makes it idempotent.
   */
  sendMessage(sessionId: string, text: string, options: SendMessageOptions = {}): Promise<Message> {
    const body = { text, operatorName: options.operatorName, clientId: options.clientId ?? newClientId(),
                   attachments: options.attachments };
    return this.call({ method: "POST", path: `/sessions/${enc(sessionId)}/messages`, body, idempotent: true },
                     options);
  }

  closeSession(sessionId: string, options?: CallOptions): Promise<Session> {
    return this.call({ method: "POST", path: `/sessions/${enc(sessionId)}/close`, idempotent: true }, options);
  }

  reopenSession(sessionId: string, options?: CallOptions): Promise<Session> {
    return this.call({ method: "POST", path: `/sessions/${enc(sessionId)}/reopen`, idempotent: true }, options);
  }

  /**
   * A custom event to every open tab of the session's visitor (the page's `PocketPing.onEvent`
   * handlers); replayed if the visitor was away.
   */
  emitEvent(sessionId: string, name: string, data: JsonObject = {}, options: EmitEventOptions = {}
  ): Promise<SentEvent> {
    const body = { name, data, clientId: options.clientId ?? newClientId() };
    return this.call({ method: "POST", path: `/sessions/${enc(sessionId)}/events`, body, idempotent: true }, options);
  }

  /** The same, by visitor id (to the visitor's latest session). */
  emitEventToVisitor(visitorId: string, name: string, data: JsonObject = {}, options: EmitEventOptions = {}
  ): Promise<SentEvent> {
    const body = { visitorId, name, data, clientId: options.clientId ?? newClientId() };
    return this.call({ method: "POST", path: "/events", body, idempotent: true }, options);
  }

  /** Live to every widget of the project open right now (not stored, not retried after a 5xx). */
  broadcastEvent(name: string, data: JsonObject = {}, options?: CallOptions): Promise<SentEvent> {
    return this.call({ method: "POST", path: "/events", body: { name, data }, idempotent: false }, options);
  }

  /** Public events after a cursor (`seq`), oldest first: polling instead of webhooks. */
  listEvents(options: ListEventsOptions = {}): Promise<EventList> {
    const query = { after: options.after ?? 0, limit: options.limit ?? 100,
                    type: options.types && options.types.length ? options.types : undefined };
    return this.call({ method: "GET", path: "/events", query, idempotent: true }, options);
  }

  /**
   * Attach one of your users to the session (their name and email show in the inbox and the
   * team's threads). Your backend is trusted: the identity is `verified`, no `userHash` needed.
   */
  identify(sessionId: string, identity: IdentityInput, options?: CallOptions): Promise<Session> {
    const body = { id: identity.id, email: identity.email ?? undefined, name: identity.name ?? undefined,
                   traits: identity.traits ?? undefined };
    return this.call({ method: "POST", path: `/sessions/${enc(sessionId)}/identify`, body, idempotent: true },
                     options);
  }

  /** Erase one session and its messages for good (a visitor's request, say). */
  eraseSession(sessionId: string, options?: CallOptions): Promise<SessionErasure> {
    return this.call({ method: "DELETE", path: `/sessions/${enc(sessionId)}`, idempotent: true }, options);
  }

  /** Everything stored about a visitor. */
  exportVisitor(visitorId: string, options?: CallOptions): Promise<VisitorExport> {
    return this.call({ method: "GET", path: `/visitors/${enc(visitorId)}/export`, idempotent: true }, options);
  }

  /** Erase every session and message of a visitor. */
  eraseVisitor(visitorId: string, options?: CallOptions): Promise<VisitorErasure> {
    return this.call({ method: "DELETE", path: `/visitors/${enc(visitorId)}`, idempotent: true }, options);
  }

  /** Where an erasure stands: per platform, what was deleted and what could not be (and why). */
  getErasure(eraseId: string, options?: CallOptions): Promise<Erasure> {
    return this.call({ method: "GET", path: `/erasures/${enc(eraseId)}`, idempotent: true }, options);
  }

  /** Add an endpoint; the result's `secret` is shown only now. */
  createWebhook(url: string, events: readonly string[] = [], options?: CallOptions): Promise<Webhook> {
    return this.call({ method: "POST", path: "/webhooks", body: { url, events: [...events] }, idempotent: false },
                     options);
  }

  async listWebhooks(options?: CallOptions): Promise<Webhook[]> {
    const body = await this.call<{ webhooks: Webhook[] }>({ method: "GET", path: "/webhooks", idempotent: true },
                                                          options);
    return body.webhooks;
  }

  async deleteWebhook(webhookId: string, options?: CallOptions): Promise<void> {
    await this.call({ method: "DELETE", path: `/webhooks/${enc(webhookId)}`, idempotent: true }, options);
  }

  async listDeliveries(webhookId: string, options: ListDeliveriesOptions = {}): Promise<Delivery[]> {
    const query = { status: options.status, limit: options.limit ?? 50 };
    const body = await this.call<{ deliveries: Delivery[] }>(
      { method: "GET", path: `/webhooks/${enc(webhookId)}/deliveries`, query, idempotent: true }, options);
    return body.deliveries;
  }

  replayDelivery(webhookId: string, deliveryId: number, options?: CallOptions): Promise<Delivery> {
    return this.call({ method: "POST", path: `/webhooks/${enc(webhookId)}/deliveries/${deliveryId}/replay`,
                       idempotent: false }, options);
  }

  // --- handlers -----------------------------------------------------------------------------

  /**
   * `handler(event, session)` for custom events from your pages (`PocketPing.trigger(name, data)`):
   * every one, or those named `name`. Returns a function that removes the handler.
   */
  onEvent(handler: EventHandler): () => void;
  onEvent(name: string, handler: EventHandler): () => void;
  onEvent(nameOrHandler: string | EventHandler, maybe?: EventHandler): () => void {
    const [match, fn] = typeof nameOrHandler === "string" ? [nameOrHandler, maybe] : [undefined, nameOrHandler];
    if (typeof fn !== "function") throw new TypeError("onEvent needs a handler function");
    return this.register({ kind: "event", match, fn });
  }

  /**
   * `handler(event, session)` for the custom event `name`; or, when `name` is a public event type
   * (`session.created`, `session.closed`, `session.reopened`, `message.created`,
   * `event.triggered`, `visitor.identified`), `handler(webhookEvent, session)` for it.
   */
  on(type: PublicEventType, handler: WebhookEventHandler): () => void;
  on(name: string, handler: EventHandler): () => void;
  on(name: string, handler: EventHandler | WebhookEventHandler): () => void {
    if (typeof handler !== "function") throw new TypeError("on needs a handler function");
    if (isPublicType(name)) return this.register({ kind: "public", match: name, fn: handler as WebhookEventHandler });
    return this.register({ kind: "event", match: name, fn: handler as EventHandler });
  }

  /** `handler(message, session)` for new messages: every one, or from `sender` (`"visitor"`, `"operator"`, `"ai"`). */
  onMessage(handler: MessageHandler): () => void;
  onMessage(sender: Sender, handler: MessageHandler): () => void;
  onMessage(senderOrHandler: Sender | MessageHandler, maybe?: MessageHandler): () => void {
    const [match, fn] = typeof senderOrHandler === "string" ? [senderOrHandler, maybe] : [undefined, senderOrHandler];
    if (typeof fn !== "function") throw new TypeError("onMessage needs a handler function");
    return this.register({ kind: "message", match, fn });
  }

  private register(handler: Handler): () => void {
    this.handlers.push(handler);
    return () => {
      const at = this.handlers.indexOf(handler);
      if (at >= 0) this.handlers.splice(at, 1);
    };
  }

  /**
   * Call the handlers registered for this event, in order; resolves to how many ran. An event
   * whose `id` was already handled is skipped (deliveries are at least once). The session is
   * the one the event carries, or fetched once (for `event.triggered`) when a handler takes it.
   */
  async dispatch(event: WebhookEvent): Promise<number> {
    if (this.dedupe && this.seen.has(event.id)) return 0;
    const calls = plan(this.handlers, event);
    let session = sessionOf(event);
    for (const { handler, arg, sessionId } of calls) {
      if (session === undefined && sessionId !== undefined && wantsSession(handler.fn)) {
        session = await this.getSession(sessionId);
      }
      if (handler.kind !== "public" && session === undefined && wantsSession(handler.fn)) {
        throw new PocketPingError("this event has no session", { code: "no_session" });
      }
      await (handler.fn as (a: unknown, s: Session | undefined) => unknown)(arg, session);
    }
    if (this.dedupe) this.seen.add(event.id);
    return calls.length;
  }

  // --- webhooks and identity ----------------------------------------------------------------

  /** `verifyWebhook` with this client's `webhookSecret`. */
  verifyWebhook(rawBody: RawBody, signatureHeader: SignatureSource, options: VerifyOptions = {}): WebhookEvent {
    if (this.webhookSecrets.length === 0) {
      throw new TypeError("give webhookSecret (or set POCKETPING_WEBHOOK_SECRET): the whsec_... secret shown "
        + "when the webhook was added");
    }
    return verifyWebhook(rawBody, signatureHeader, this.webhookSecrets, options);
  }

  /** Verify a webhook and dispatch it to the handlers (what the ready-made receivers do). */
  async handleWebhook(rawBody: RawBody, signatureHeader: SignatureSource): Promise<WebhookEvent> {
    const event = this.verifyWebhook(rawBody, signatureHeader);
    await this.dispatch(event);
    return event;
  }

  /** Express (or plain `node:http`) middleware receiving webhooks: `app.post(path, pp.expressMiddleware())`. */
  expressMiddleware(options?: ReceiverOptions): ExpressMiddleware {
    return expressMiddleware(this, { logger: this.logger, ...options });
  }

  /** A Fastify plugin receiving webhooks: `app.register(pp.fastifyPlugin(), { path: "/webhooks/pocketping" })`. */
  fastifyPlugin(options?: ReceiverOptions): FastifyPlugin {
    return fastifyPlugin(this, { logger: this.logger, ...options });
  }

  /** A Web-standard `(Request) => Promise<Response>` receiving webhooks (Next.js route handlers, Hono, Deno, Bun). */
  requestHandler(options?: ReceiverOptions): FetchHandler {
    return requestHandler(this, { logger: this.logger, ...options });
  }

  /** `userHash(identitySecret, userId)` with this client's `identitySecret`. */
  userHash(userId: string): string {
    if (!this.identitySecret) {
      throw new TypeError("give identitySecret (or set POCKETPING_IDENTITY_SECRET): the secret set with "
        + "`pocketping project update ID --identity-secret ...`");
    }
    return userHash(this.identitySecret, userId);
  }

  // --- the live stream ----------------------------------------------------------------------

  /**
   * Follow the project's public events live (the same events webhooks carry): from now, or
   * after the `seq` given as `after`. After a dropped connection it reconnects with backoff and
   * resumes after the last event it gave you (`Last-Event-ID`): nothing is lost or repeated.
   */
  async *stream(options: StreamOptions = {}): AsyncGenerator<WebhookEvent> {
    let cursor = options.after;
    let attempt = 0;
    const reconnect = options.reconnect ?? true;
    const query = { type: options.types && options.types.length ? options.types : undefined };
    const url = buildUrl(this.apiUrl, "/events/stream", query);
    // Stopped by the caller's signal or by close(), whichever comes first.
    const stop = linkedController(options.signal, undefined);
    const closing = this.closing.signal;
    const onClose = (): void => stop.controller.abort(closing.reason);
    if (closing.aborted) onClose();
    else closing.addEventListener("abort", onClose, { once: true });
    try {
      while (!stop.controller.signal.aborted) {
        const headers: Record<string, string> = { ...this.transport.headers, Accept: "text/event-stream" };
        if (cursor !== undefined) headers["Last-Event-ID"] = String(cursor);
        const link = linkedController(stop.controller.signal, STREAM_IDLE_MS);
        try {
          const response = await this.transport.fetch(url, { headers, signal: link.controller.signal });
          if (response.status !== 200) {
            const error = errorFromResponse(response.status, parseJson(await response.text()));
            if (!RETRY_STATUSES.has(response.status) || !reconnect) throw error;
          } else if (response.body) {
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            const parser = new SSEParser();
            let opened = false;
            try {
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                link.restartTimer();
                for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
                  if (message.id !== undefined && /^[0-9]+$/.test(message.id)) cursor = Number(message.id);
                  attempt = 0;
                  if (!opened) {
                    opened = true;
                    options.onOpen?.(cursor);
                  }
                  if (message.data) yield JSON.parse(message.data) as WebhookEvent;
                }
              }
            } finally {
              await reader.cancel().catch(() => undefined);
            }
          }
        } catch (error) {
          if (stop.controller.signal.aborted) return;
          if (error instanceof PocketPingError) throw error;
          if (!reconnect) {
            throw new APIConnectionError(`the stream from ${this.baseUrl} dropped: ${String(error)}`,
                                         { code: "connection_error", cause: error });
          }
        } finally {
          link.release();
          link.controller.abort();
        }
        if (!reconnect) return;
        try {
          await sleep(backoffMs(attempt, undefined, this.retryBackoffMs), stop.controller.signal);
        } catch {
          return;
        }
        attempt = Math.min(attempt + 1, 6);
      }
    } finally {
      stop.release();
      closing.removeEventListener("abort", onClose);
    }
  }

  /**
   * Dispatch every event of the stream to the handlers, until `signal` is aborted or `close()`
   * is called (then it resolves). It rejects only for an error that retrying cannot mend (a
   * wrong secret key: `AuthenticationError`).
   */
  async listen(options: ListenOptions = {}): Promise<void> {
    const onError = options.onError ?? ((error: unknown, event: WebhookEvent) => {
      this.logger.error(`a PocketPing handler failed for ${event.type} ${event.id}`, error);
    });
    for await (const event of this.stream(options)) {
      try {
        await this.dispatch(event);
      } catch (error) {
        onError(error, event);
      }
    }
  }

  /** Stop every `listen()` and `stream()` of this client. */
  close(): void {
    this.closing.abort(new Error("the client was closed"));
    this.closing = new AbortController();
  }
}
