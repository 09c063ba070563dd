/** How one API call is sent: timeouts, retries with backoff (honouring Retry-After), cancellation. */

import { APIConnectionError, errorFromResponse } from "./errors.js";

export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

export type Query = Record<string, string | number | boolean | readonly string[] | null | undefined>;

/** One request to the REST API. */
export interface Call {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  query?: Query;
  body?: unknown;
  /** safe to send again after a 5xx or a dropped connection (reads, or writes with a clientId) */
  idempotent: boolean;
}

export interface Transport {
  apiUrl: string;
  headers: Record<string, string>;
  timeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  fetch: typeof fetch;
}

/** Exponential backoff with jitter; the server's `Retry-After` wins when it says more. */
export function backoffMs(attempt: number, retryAfterMs: number | undefined, baseMs: number, capMs = 30_000): number {
  const full = Math.min(capMs, baseMs * 2 ** attempt);
  const delay = full / 2 + Math.random() * (full / 2);
  return Math.max(delay, retryAfterMs ?? 0);
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date. */
export function retryAfterMs(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Wait `ms`, or throw the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function buildUrl(base: string, path: string, query?: Query): string {
  const url = new URL(base + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
    else url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/**
 * A controller aborted by the caller's signal or after `timeoutMs` (whichever comes first);
 * `timedOut()` says which. Node 18 has no `AbortSignal.any`, hence this.
 */
export function linkedController(signal: AbortSignal | undefined, timeoutMs: number | undefined): {
  controller: AbortController; timedOut(): boolean; release(): void; restartTimer(): void;
} {
  const controller = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const start = (): void => {
    if (timeoutMs === undefined) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  };
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener("abort", onAbort, { once: true });
  start();
  return {
    controller,
    timedOut: () => timedOut,
    restartTimer: start,
    release: () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Send a call, retrying 429 always (nothing was done) and 5xx or a lost connection when safe. */
export async function send<T>(transport: Transport, call: Call, signal?: AbortSignal): Promise<T> {
  const url = buildUrl(transport.apiUrl, call.path, call.query);
  const headers: Record<string, string> = { ...transport.headers };
  let body: string | undefined;
  if (call.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(call.body);
  }
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    const link = linkedController(signal, transport.timeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const response = await transport.fetch(url, { method: call.method, headers, body, signal: link.controller.signal });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const timedOut = link.timedOut();
      if (call.idempotent && attempt < transport.retries) {
        await sleep(backoffMs(attempt, undefined, transport.retryBackoffMs), signal);
        continue;
      }
      const why = timedOut ? `no answer within ${transport.timeoutMs} ms` : String((error as Error)?.cause ?? error);
      throw new APIConnectionError(`could not reach ${transport.apiUrl}: ${why}`,
                                   { code: timedOut ? "timeout" : "connection_error", cause: error });
    } finally {
      link.release();
    }
    if (RETRY_STATUSES.has(status) && attempt < transport.retries && (call.idempotent || status === 429)) {
      await sleep(backoffMs(attempt, retryAfterMs(retryAfter), transport.retryBackoffMs), signal);
      continue;
    }
    const parsed = parseJson(text);
    if (status >= 400) throw errorFromResponse(status, parsed);
    return parsed as T;
  }
}
