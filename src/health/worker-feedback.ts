import type { Worker } from "../pool/pools.ts";

/** Why a live request counted against a worker (passive health). */
export type FailureKind =
  | "connect"
  | "status_5xx"
  | "timeout_connect"
  | "timeout_first_token"
  /** A non-stream answer did not come within the deadline its requested tokens allow. */
  | "timeout_generation"
  | "empty_stream"
  /** A stream's first event was an error not caused by the request (engine death). */
  | "inband_error"
  | "mid_stream"
  /** The stream went silent past the idle budget after it started. */
  | "idle_timeout";

/** How an ejection names each failure kind to operators. */
export const FAILURE_REASONS: Readonly<Record<FailureKind, string>> = {
  connect: "connection failed",
  status_5xx: "answered 5xx",
  timeout_connect: "no response headers within the connect budget",
  timeout_first_token: "no first token within the first-token budget",
  timeout_generation: "no non-stream answer within the deadline its max_tokens allow",
  empty_stream: "closed a stream before its first event",
  inband_error: "sent an error event before the first token",
  mid_stream: "broke a stream mid-answer",
  idle_timeout: "stalled a stream past the idle budget",
};

/**
 * When a worker last sent a byte of any request (monotonic ms, `performance.now()`). The request path
 * writes it per chunk, so it is a plain field: a timestamp write, no call. Frozen detection reads it.
 */
export interface ProgressMark {
  atMs: number;
}

/**
 * What the request path tells health about workers. A client's own abort is never reported.
 * Implementations must be cheap and synchronous: they run on the hot path.
 */
export interface WorkerFeedback {
  success(worker: Worker): void;
  failure(worker: Worker, kind: FailureKind): void;
  /** The worker's progress mark; fetch once per attempt, then write `atMs` whenever bytes arrive. */
  progressMark(worker: Worker): ProgressMark;
}

/** Without health nobody reads progress: every writer shares one throwaway mark. */
const unreadMark: ProgressMark = { atMs: 0 };

export const noFeedback: WorkerFeedback = {
  success: () => undefined,
  failure: () => undefined,
  progressMark: () => unreadMark,
};
