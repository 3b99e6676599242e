/**
 * The one catalog of errors the gateway itself produces. Each entry has a stable `code` that clients and
 * dashboards can rely on; `routes/on-error.ts` is the only place that turns them into the OpenAI envelope.
 */
export const errorCatalog = {
  invalid_request: { status: 400, type: "invalid_request_error" },
  unauthorized: { status: 401, type: "authentication_error" },
  forbidden: { status: 403, type: "permission_error" },
  model_not_found: { status: 404, type: "invalid_request_error" },
  not_found: { status: 404, type: "invalid_request_error" },
  /** POST /v1/feedback: no answered request with that id is remembered (never seen, or forgotten). */
  request_not_found: { status: 404, type: "invalid_request_error" },
  /** POST /v1/feedback: the request is older than the feedback window. */
  feedback_expired: { status: 400, type: "invalid_request_error" },
  /** POST /v1/feedback: the request failed, so there is no answer to rate. */
  request_not_answered: { status: 400, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "invalid_request_error" },
  unsupported_media_type: { status: 415, type: "invalid_request_error" },
  pool_saturated: { status: 429, type: "rate_limit_error" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  internal_error: { status: 500, type: "server_error" },
  upstream_unreachable: { status: 502, type: "server_error" },
  upstream_error: { status: 502, type: "server_error" },
  no_healthy_worker: { status: 503, type: "server_error" },
  shutting_down: { status: 503, type: "server_error" },
  upstream_timeout: { status: 504, type: "server_error" },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/**
 * The phase a timeout belongs to, so logs and metrics say which budget ran out. `generation`: a non-stream
 * answer's deadline, scaled by the tokens it asked for.
 */
export type TimeoutPhase = "connect" | "first_token" | "idle" | "generation" | "total";

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: ErrorCode };
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;
  /** Seconds the client should wait before retrying (429/503). */
  readonly retryAfterS: number | undefined;
  /** Extra response headers (e.g. `x-ringgate-attempts` when attempts were made). */
  readonly headers: Record<string, string>;
  #recorded = false;

  constructor(
    code: ErrorCode,
    message: string,
    options: { param?: string; retryAfterS?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "GatewayError";
    this.code = code;
    this.param = options.param ?? null;
    this.retryAfterS = options.retryAfterS;
    this.headers = options.headers ?? {};
  }

  /** True once a request record was written for this error, so `onError` does not write a second. */
  get recorded(): boolean {
    return this.#recorded;
  }

  markRecorded(): this {
    this.#recorded = true;
    return this;
  }

  get status(): number {
    return errorCatalog[this.code].status;
  }

  toEnvelope(): ErrorEnvelope {
    return { error: { message: this.message, type: errorCatalog[this.code].type, param: this.param, code: this.code } };
  }

  /** The response every handler error becomes; `Retry-After` only where the code carries one. */
  toResponse(headers: Record<string, string> = {}): Response {
    const retry = this.retryAfterS === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(this.retryAfterS))) };
    return new Response(JSON.stringify(this.toEnvelope()), {
      status: this.status,
      headers: { "content-type": "application/json", ...retry, ...this.headers, ...headers },
    });
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}
