import type { Usage } from "./sse-events.ts";

export type StreamOutcome = "ok" | "client_abort" | "mid_stream_error" | "timeout";

/** How a relayed stream ended: what the attempt, health and the request's record learn of it. */
export interface StreamEnd {
  outcome: StreamOutcome;
  /** Stable code of what ended the stream early (`upstream_error`, `upstream_timeout`). */
  errorCode?: string;
  detail?: string;
  usage?: Usage;
  /** One per finished choice, as the worker wrote it (`stop`, `length`, `tool_calls`, …). */
  finishReasons?: string[];
  /** The worker finished but sent no `[DONE]`; the gateway completed the stream. */
  completedDone: boolean;
  /**
   * The worker's error event came before any chunk and its message says the request itself is at fault
   * (e.g. a prompt the engine refuses): the client's error, which says nothing against the worker.
   */
  requestFault?: boolean;
  /** Malformed events dropped (each alone is skipped; several in a row end the stream). */
  malformedDropped?: number;
}

export function brokenEnd(detail: string): StreamEnd {
  return { outcome: "mid_stream_error", errorCode: "upstream_error", detail, completedDone: false };
}

export function timeoutEnd(detail: "idle" | "total"): StreamEnd {
  return { outcome: "timeout", errorCode: "upstream_timeout", detail, completedDone: false };
}
