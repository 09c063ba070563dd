/**
 * Ready-made webhook receivers: each verifies the signature, dispatches the event to the
 * client's handlers and answers `200` (handled), `400` (a bad or stale signature: refused) or
 * `500` (a handler threw: PocketPing delivers the same event again later).
 *
 * They need the raw body: the Express middleware reads the request itself (or takes the Buffer
 * of `express.raw()`), the Fastify plugin parses its own route's body as a Buffer.
 */

import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent } from "./models.js";
import type { RawBody } from "./signing.js";
import { SIGNATURE_HEADER } from "./signing.js";

/** What the receivers need of a client (a `PocketPing`). */
export interface WebhookClient {
  verifyWebhook(rawBody: RawBody, signatureHeader: string | undefined): WebhookEvent;
  dispatch(event: WebhookEvent): Promise<number>;
}

export interface ReceiverOptions {
  /** the largest body accepted, in bytes (1 MiB) */
  maxBodyBytes?: number;
  /** where refusals and handler failures are logged (`console`) */
  logger?: { warn(message: string): void; error(message: string, error?: unknown): void };
}

export interface ReceiverAnswer {
  status: number;
  body: Record<string, unknown>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

/** Verify, dispatch, and say what to answer (the framework-neutral part of every receiver). */
export async function receiveWebhook(client: WebhookClient, rawBody: RawBody, signatureHeader: string | undefined,
                                     options: ReceiverOptions = {}): Promise<ReceiverAnswer> {
  const logger = options.logger ?? console;
  let event: WebhookEvent;
  try {
    event = client.verifyWebhook(rawBody, signatureHeader);
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    logger.warn(`refused a webhook: ${error.code}: ${error.message}`);
    return { status: 400, body: { error: { code: error.code, message: error.message } } };
  }
  try {
    const handled = await client.dispatch(event);
    return { status: 200, body: { received: event.id, handled } };
  } catch (error) {
    logger.error(`a PocketPing handler failed for ${event.type} ${event.id}`, error);
    return { status: 500, body: { error: { code: "handler_failed", message: "a handler raised; PocketPing will retry" } } };
  }
}

function tooLarge(limit: number): ReceiverAnswer {
  return { status: 413, body: { error: { code: "body_too_large", message: `a webhook body is at most ${limit} bytes` } } };
}

// --- Express (and plain node:http) -----------------------------------------------------------

/** The parts of Node's `IncomingMessage` (Express's `req`) the middleware uses. */
export interface NodeRequest {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  /** set once something (a body parser) has read the whole body */
  readableEnded?: boolean;
  on(event: "data", listener: (chunk: Uint8Array | string) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** The parts of Node's `ServerResponse` (Express's `res`) the middleware uses. */
export interface NodeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export type ExpressMiddleware = (req: NodeRequest, res: NodeResponse, next?: (error?: unknown) => void) => void;

function header(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers[SIGNATURE_HEADER.toLowerCase()];
  return Array.isArray(value) ? value.join(",") : value;
}

function readBody(req: NodeRequest, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
      size += bytes.length;
      if (size > limit) over = true;
      else chunks.push(bytes);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answer(res: NodeResponse, { status, body }: ReceiverAnswer): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify(body));
}

/**
 * Express middleware (also plain `node:http`): `app.post("/webhooks/pocketping", pp.expressMiddleware())`.
 * Mount it before `express.json()`, or after `express.raw({ type: "application/json" })`.
 */
export function expressMiddleware(client: WebhookClient, options: ReceiverOptions = {}): ExpressMiddleware {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return (req, res, next) => {
    const run = async (): Promise<void> => {
      let raw: RawBody | undefined;
      if (typeof req.body === "string" || req.body instanceof Uint8Array) {
        raw = req.body; // express.raw() or express.text()
      } else if (req.readableEnded) {
        answer(res, { status: 500, body: { error: { code: "body_already_parsed", message: "the webhook body was "
          + "parsed before its signature could be checked: mount pp.expressMiddleware() before express.json(), "
          + "or use express.raw({ type: \"application/json\" }) for this route" } } });
        return;
      } else {
        raw = await readBody(req, limit);
        if (raw === undefined) {
          answer(res, tooLarge(limit));
          return;
        }
      }
      if (typeof raw !== "string" && raw.byteLength > limit) {
        answer(res, tooLarge(limit));
        return;
      }
      answer(res, await receiveWebhook(client, raw, header(req.headers), options));
    };
    run().catch((error: unknown) => {
      if (next) next(error);
      else answer(res, { status: 500, body: { error: { code: "receiver_failed", message: String(error) } } });
    });
  };
}

// --- Fastify ----------------------------------------------------------------------------------

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(contentType: string, options: { parseAs: "buffer"; bodyLimit?: number },
                       parser: (request: unknown, body: Uint8Array, done: (error: Error | null, body?: Uint8Array) => void) => void): void;
  post(path: string, handler: (request: { body: unknown; headers: Record<string, string | string[] | undefined> },
                               reply: FastifyReplyLike) => Promise<unknown>): unknown;
}

export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(body: unknown): unknown;
}

export interface FastifyPluginOptions {
  /** the route's path ("/webhooks/pocketping") */
  path?: string;
}

export type FastifyPlugin = (instance: FastifyLike, options: FastifyPluginOptions) => Promise<void>;

/**
 * A Fastify plugin: `app.register(pp.fastifyPlugin(), { path: "/webhooks/pocketping" })`. The
 * raw-body parser it sets stays inside the plugin (Fastify's encapsulation): your other routes
 * keep parsing JSON as before.
 */
export function fastifyPlugin(client: WebhookClient, options: ReceiverOptions = {}): FastifyPlugin {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return async (instance, pluginOptions) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: limit }, (_request, body, done) => {
      done(null, body);
    });
    instance.post(pluginOptions?.path ?? "/webhooks/pocketping", async (request, reply) => {
      const raw = request.body instanceof Uint8Array || typeof request.body === "string" ? request.body : "";
      const result = await receiveWebhook(client, raw, header(request.headers), options);
      return reply.code(result.status).header("Content-Type", "application/json").send(JSON.stringify(result.body));
    });
  };
}

// --- Web-standard Request / Response -----------------------------------------------------------

export type FetchHandler = (request: Request) => Promise<Response>;

/**
 * A Web-standard handler for Next.js route handlers (`export const POST = pp.requestHandler()`),
 * Hono (`app.post(path, (c) => handler(c.req.raw))`), Deno and Bun (`Deno.serve(handler)`).
 */
export function requestHandler(client: WebhookClient, options: ReceiverOptions = {}): FetchHandler {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return async (request) => {
    let result: ReceiverAnswer;
    if (request.method !== "POST") {
      result = { status: 405, body: { error: { code: "method_not_allowed", message: "webhooks are POSTed" } } };
    } else {
      const raw = new Uint8Array(await request.arrayBuffer());
      result = raw.byteLength > limit ? tooLarge(limit)
        : await receiveWebhook(client, raw, request.headers.get(SIGNATURE_HEADER) ?? undefined, options);
    }
    return new Response(JSON.stringify(result.body), {
      status: result.status, headers: { "Content-Type": "application/json" },
    });
  };
}
