import type { Worker } from "../pool/pools.ts";

/** Why a live request counted against a worker (passive health). */
export type FailureKind =
  | "connect"
  | "status_5xx"
  | "timeout_connect"
  | "timeout_first_token"
  | "empty_stream"
  /** A stream's first event was an error not caused by the request (engine death). */
  | "inband_error"
  | "mid_stream"
  /** The stream went silent past the idle budget after it started. */
  | "idle_timeout";

/**
 * What the request path tells health about workers. A client's own abort is never reported.
 * Implementations must be cheap and synchronous: they run on the hot path.
 */
export interface WorkerFeedback {
  success(worker: Worker): void;
  failure(worker: Worker, kind: FailureKind): void;
}

export const noFeedback: WorkerFeedback = { success: () => undefined, failure: () => undefined };
