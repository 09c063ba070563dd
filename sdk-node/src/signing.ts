/**
 * Webhook signatures: `PocketPing-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
 * and identity hashes: `userHash = hex HMAC-SHA256(identity secret, user id)`.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent } from "./models.js";

export const SIGNATURE_HEADER = "PocketPing-Signature";
/** Timestamps further than this from now (in seconds) are refused: a replay, or a wrong clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A raw request body: exactly the bytes received (a string is taken as UTF-8). */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** Where the signature header can be read from: its value, or the request's headers. */
export type SignatureSource =
  | string
  | null
  | undefined
  | { get(name: string): string | null | undefined }
  | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** how far `t` may be from now, in seconds (300) */
  toleranceSeconds?: number;
  /** the current Unix time in seconds (the clock; for tests) */
  now?: number;
}

function bytesOf(body: RawBody): Buffer {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function mac(secret: string, timestamp: number, body: Buffer): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The header value PocketPing sends for this body (for tests of your own receiver). */
export function sign(secret: string, timestamp: number, rawBody: RawBody): string {
  return `t=${timestamp},v1=${mac(secret, timestamp, bytesOf(rawBody))}`;
}

/** The signature header's value, from a string, a `Headers` object or Node's `req.headers`. */
export function signatureHeaderOf(source: SignatureSource): string | undefined {
  if (source === null || source === undefined) return undefined;
  if (typeof source === "string") return source;
  if (typeof (source as { get?: unknown }).get === "function") {
    const value = (source as { get(name: string): string | null | undefined }).get(SIGNATURE_HEADER);
    return value ?? undefined;
  }
  const wanted = SIGNATURE_HEADER.toLowerCase();
  for (const [key, value] of Object.entries(source as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value.join(",") : value;
  }
  return undefined;
}

function parseEvent(body: Buffer): WebhookEvent {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new WebhookVerificationError("the body is not a PocketPing event", { code: "invalid_payload", cause: error });
  }
  const p = payload as Record<string, unknown> | null;
  const valid = typeof p === "object" && p !== null && !Array.isArray(p) && typeof p["id"] === "string"
    && typeof p["type"] === "string" && typeof p["createdAt"] === "string" && typeof p["projectId"] === "string"
    && (p["data"] === undefined || (typeof p["data"] === "object" && p["data"] !== null && !Array.isArray(p["data"])));
  if (!valid) throw new WebhookVerificationError("the body is not a PocketPing event", { code: "invalid_payload" });
  return { ...(p as unknown as WebhookEvent), data: (p["data"] as Record<string, unknown> | undefined) ?? {} };
}

/**
 * Check a webhook's `PocketPing-Signature` and return its event. Pass the raw body exactly as
 * received, the header (or the request's headers) and the endpoint's secret (several during a
 * rotation). Compares in constant time; a header may carry several `v1`; a `t` more than
 * `toleranceSeconds` (300) away from now is refused. Throws `WebhookVerificationError` with
 * `code` `missing_signature`, `invalid_signature`, `stale_signature` or `invalid_payload`.
 */
export function verifyWebhook(rawBody: RawBody, signatureHeader: SignatureSource,
                              secret: string | readonly string[], options: VerifyOptions = {}): WebhookEvent {
  const secrets = (typeof secret === "string" ? [secret] : [...secret]).filter((s) => s);
  if (secrets.length === 0) {
    throw new TypeError("verifyWebhook needs the endpoint's secret (the whsec_... shown when the webhook was added)");
  }
  const header = signatureHeaderOf(signatureHeader);
  if (!header) throw new WebhookVerificationError(`no ${SIGNATURE_HEADER} header`, { code: "missing_signature" });
  let timestamp: number | undefined;
  const given: string[] = [];
  for (const part of header.split(",")) {
    const item = part.trim();
    const at = item.indexOf("=");
    const key = at < 0 ? item : item.slice(0, at);
    const value = at < 0 ? "" : item.slice(at + 1);
    if (key === "t" && /^[0-9]+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") given.push(value.trim());
  }
  if (timestamp === undefined || given.length === 0) {
    throw new WebhookVerificationError("the signature header must look like t=<unix>,v1=<hex>",
                                       { code: "invalid_signature" });
  }
  const now = options.now ?? Date.now() / 1000;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const away = Math.abs(now - timestamp);
  if (away > tolerance) {
    throw new WebhookVerificationError(`the signature is ${away.toFixed(0)} s away from now (tolerance `
      + `${tolerance.toFixed(0)} s): a replay, or a wrong clock`, { code: "stale_signature" });
  }
  const body = bytesOf(rawBody);
  let matched = false;
  for (const key of secrets) {
    const expected = Buffer.from(mac(key, timestamp, body), "utf8");
    for (const candidate of given) {
      // Compare every pair (no early exit): the time taken says nothing about the secret.
      const other = Buffer.from(candidate, "utf8");
      const same = other.length === expected.length && timingSafeEqual(other, expected);
      matched = same || matched;
    }
  }
  if (!matched) throw new WebhookVerificationError("the signature does not match", { code: "invalid_signature" });
  return parseEvent(body);
}

/**
 * `HMAC-SHA256(identity secret, userId)` in hex: what the page passes as `userHash` to
 * `PocketPing.identify({ id, ..., userHash })` when the project has an identity secret.
 */
export function userHash(secret: string, userId: string): string {
  if (!secret) throw new TypeError("userHash needs the project's identity secret");
  return createHmac("sha256", secret).update(String(userId), "utf8").digest("hex");
}
