/** Errors: every failure the server reports carries its stable `code`. */

export interface ErrorOptions {
  code?: string;
  status?: number;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The base class of every error this SDK throws. `code` is the server's stable error code
 * (`session_not_found`, `rate_limited` ...), `status` the HTTP status when there was an answer.
 */
export class PocketPingError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? "error";
    this.status = options.status;
    this.details = options.details ?? {};
  }

  override toString(): string {
    const status = this.status ? ` (HTTP ${this.status})` : "";
    return `${this.name}: ${this.code}: ${this.message}${status}`;
  }
}

/** 400 or 422: the input was refused; `details.fields` says which fields. */
export class InvalidRequestError extends PocketPingError {}
/** 401: missing or wrong secret key. */
export class AuthenticationError extends PocketPingError {}
/** 403. */
export class PermissionDeniedError extends PocketPingError {}
/** 404: no such object in this project. */
export class NotFoundError extends PocketPingError {}
/** 409. */
export class ConflictError extends PocketPingError {}
/** 429 after the retries ran out; `retryAfter` in seconds. */
export class RateLimitError extends PocketPingError {
  get retryAfter(): number | undefined {
    const value = this.details["retryAfter"];
    return typeof value === "number" ? value : undefined;
  }
}
/** 5xx after the retries ran out. */
export class ServerError extends PocketPingError {}
/** The server could not be reached, or did not answer in time (after the retries). */
export class APIConnectionError extends PocketPingError {}
/** A webhook whose signature is missing, wrong or too old (`code` says which). */
export class WebhookVerificationError extends PocketPingError {}

const BY_STATUS: Record<number, typeof PocketPingError> = {
  400: InvalidRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  422: InvalidRequestError,
  429: RateLimitError,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The error for an HTTP answer of 400 or more (its body is the server's `{"error": {...}}`). */
export function errorFromResponse(status: number, body: unknown): PocketPingError {
  const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : {};
  const code = typeof error["code"] === "string" && error["code"] ? error["code"]
    : status >= 500 ? "server_error" : "http_error";
  const message = typeof error["message"] === "string" && error["message"] ? error["message"]
    : `the server answered HTTP ${status}`;
  const details: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key !== "code" && key !== "message") details[key] = value;
  }
  const Cls = BY_STATUS[status] ?? (status >= 500 ? ServerError : PocketPingError);
  return new Cls(message, { code, status, details });
}
