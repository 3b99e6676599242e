import type { ErrorCode, TimeoutPhase } from "../errors/catalog.ts";
import type { FailureKind } from "../health/worker-feedback.ts";
import type { AttemptResult } from "./retry-policy.ts";

/**
 * What one attempt's result means, worked out once: the retry policy, health feedback, metrics labels,
 * admin stats and the error after exhaustion all read these fields instead of each re-deriving its own.
 */
export interface AttemptOutcome {
  kind: AttemptResult["kind"];
  /** The attempt's label in records and `ringgate_upstream_attempts_total` (`status_503`, `timeout_connect`…). */
  label: string;
  /** The worker's HTTP status when it answered with one. */
  status: number | undefined;
  /** Which budget ran out, for a timeout. */
  phase: TimeoutPhase | undefined;
  retryAfterMs: number | undefined;
  /** The worker's answer may go to the client as it is (a 200, or a status no other worker would change). */
  final: boolean;
  /** Another attempt may do better. */
  retryable: boolean;
  /** A worker's retryable answer (429, 408, 5xx): the same worker may give a better one, e.g. in a one-worker pool. */
  retryableAnswer: boolean;
  /** Uses up one of the pool's attempts (a refused or reset connection never does: it costs the worker nothing). */
  costsAttempt: boolean;
  /** What health counts against the worker; undefined when the attempt says nothing bad about it. */
  workerFault: FailureKind | undefined;
  /** The worker answered: health counts it alive. */
  provesAlive: boolean;
  /** Admin's recent error rate: true failed, false answered, undefined says nothing (the client left). */
  failed: boolean | undefined;
  /** The gateway's error when the request ends on this attempt without an answer worth passing through. */
  errorCode: ErrorCode;
}

export function classifyAttempt(result: AttemptResult): AttemptOutcome {
  switch (result.kind) {
    case "ok":
      return outcome(result, { final: true, provesAlive: true, failed: false });
    case "client_abort":
      return outcome(result, { retryable: false, costsAttempt: true, failed: undefined });
    case "status":
      return statusOutcome(result.status, result.retryAfterMs);
    case "timeout":
      return outcome(result, {
        label: `timeout_${result.phase}`,
        phase: result.phase,
        // The request's own total budget says nothing about the worker, and leaves no time to retry.
        retryable: result.phase !== "total",
        workerFault: TIMEOUT_FAULTS[result.phase],
        errorCode: "upstream_timeout",
      });
    case "connect_error":
    case "connection_reset":
      return outcome(result, { costsAttempt: false, workerFault: "connect" });
    case "empty_stream":
      return outcome(result, { workerFault: "empty_stream" });
    case "inband_error":
      return outcome(result, { workerFault: "inband_error", errorCode: "upstream_error" });
    case "worker_down":
      return outcome(result, {});
    case "cancelled":
      // Aborted by the gateway because another worker answered first: nothing about this worker.
      return outcome(result, { retryable: false, failed: undefined });
  }
}

const TIMEOUT_FAULTS: Readonly<Record<TimeoutPhase, FailureKind | undefined>> = {
  connect: "timeout_connect",
  first_token: "timeout_first_token",
  idle: "timeout_connect",
  generation: "timeout_generation",
  total: undefined,
};

function statusOutcome(status: number, retryAfterMs: number | undefined): AttemptOutcome {
  const label = `status_${status}`;
  const base = { label, status, retryAfterMs, provesAlive: true, errorCode: "upstream_error" as const };
  // Other 4xx answers are about the request (400, 401, 404, 413, 422…): another worker would say the same,
  // so they are passed through as they are, and they are the client's fault, not the worker's.
  const retried = status >= 500 || status === 408 || status === 429;
  const failed = status < 400 || status >= 500;
  if (!retried) return outcome({ kind: "status" }, { ...base, final: true, failed });
  const workerFault = status >= 500 ? "status_5xx" : undefined;
  return outcome({ kind: "status" }, { ...base, retryableAnswer: true, workerFault, failed: status >= 500 });
}

/** Defaults: a failed attempt that another worker may answer, counted against this one in the admin view. */
function outcome(result: Pick<AttemptResult, "kind">, fields: Partial<AttemptOutcome>): AttemptOutcome {
  return {
    kind: result.kind,
    label: result.kind,
    status: undefined,
    phase: undefined,
    retryAfterMs: undefined,
    final: false,
    retryable: !fields.final,
    retryableAnswer: false,
    costsAttempt: true,
    workerFault: undefined,
    provesAlive: false,
    failed: true,
    errorCode: "upstream_unreachable",
    ...fields,
  };
}
