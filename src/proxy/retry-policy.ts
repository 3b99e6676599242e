import type { TimeoutPhase } from "../errors/catalog.ts";
import type { AttemptOutcome } from "./attempt-outcome.ts";

/** What one attempt against one worker came to, before any byte reached the client. */
export type AttemptResult =
  | { kind: "ok" }
  | { kind: "client_abort" }
  | { kind: "connect_error"; message: string }
  /**
   * The connection closed before any answer: most often a pooled keep-alive connection the worker closed
   * for idleness at that very moment (uvicorn closes after 5 s and announces no timeout). Tried once more
   * on a fresh connection to the same worker; a second reset counts like a refused connection.
   */
  | { kind: "connection_reset"; message: string }
  | { kind: "timeout"; phase: TimeoutPhase }
  | { kind: "status"; status: number; retryAfterMs: number | undefined }
  /** The worker answered 200 to a stream and closed it before sending any event. */
  | { kind: "empty_stream" }
  /** The stream's first event was an error that is not the request's fault (engine death on vLLM v0.11.0). */
  | { kind: "inband_error"; status: number | undefined }
  /** Health declared the worker stuck while the attempt waited for its answer. */
  | { kind: "worker_down"; reason: string }
  /** A hedged request's other worker answered first, so this attempt was aborted. */
  | { kind: "cancelled" };

export type Decision = { action: "respond" } | { action: "retry"; waitMs: number } | { action: "give_up" };

export interface RetryBudget {
  attempt: number;
  maxAttempts: number;
  nowMs: number;
  /** No new attempt may start after this (monotonic ms). */
  budgetEndMs: number;
  maxRetryAfterMs: number;
}

/**
 * The one place that decides what happens after an attempt. Only called before the first byte went to
 * the client: after that nothing is retried, because a replayed generation would duplicate or change text.
 */
export function decide(outcome: AttemptOutcome, budget: RetryBudget): Decision {
  if (outcome.final) return { action: "respond" };
  if (!outcome.retryable) return { action: "give_up" };
  const retryAfterMs = outcome.retryAfterMs;
  // A Retry-After longer than we may wait means this worker is out; try the next one at once.
  const waitMs = retryAfterMs !== undefined && retryAfterMs <= budget.maxRetryAfterMs ? retryAfterMs : 0;
  if (budget.attempt >= budget.maxAttempts) return { action: "give_up" };
  if (budget.nowMs + waitMs >= budget.budgetEndMs) return { action: "give_up" };
  return { action: "retry", waitMs };
}

/** `Retry-After` in seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowEpochMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowEpochMs);
}

/**
 * A one-worker pool has nobody else to ask: a retryable answer (429, 503, 500…) is asked of the same worker
 * again, unless it asked for a longer pause than the gateway waits (then its answer is passed through).
 */
export function oneWorkerRetry(outcome: AttemptOutcome, maxRetryAfterMs: number): boolean {
  if (!outcome.retryableAnswer) return false;
  return outcome.retryAfterMs === undefined || outcome.retryAfterMs <= maxRetryAfterMs;
}

/** The worker asked for a pause that fits the budget; a client that leaves ends the wait at once. */
export function honourRetryAfter(waitMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    signal.addEventListener("abort", done, { once: true });
  });
}
