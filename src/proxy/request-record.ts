import type { HedgeResult } from "./hedged-attempt.ts";
import type { StreamOutcome } from "./sse-relay.ts";

export type RequestOutcome = StreamOutcome | "upstream_error" | "rejected";

/** One upstream attempt, for metrics and the `x-ringgate-attempts` header. */
export interface AttemptRecord {
  worker: string;
  pool: string;
  /** AttemptOutcome.label: `ok`, `status_<code>`, `timeout_<phase>`, the other AttemptResult kinds as they are. */
  result: string;
  durationMs: number;
  /** For admin's recent error rate: failed, or answered (a 4xx is the client's fault); absent when the client left. */
  failed?: boolean;
  /** When the attempt started, in ms after the request arrived (for trace spans). */
  startOffsetMs?: number;
  /** This try was the hedge: the second worker a hedged request went to. */
  hedge?: true;
}

/** One stream break and what became of it, for trace spans. */
export interface ContinuationRecord {
  /** As in `RequestRecord.continuations`: `continued`, `restarted`, `no_worker`, … */
  result: string;
  from: string;
  /** The worker that took the answer over; absent when none did. */
  to?: string;
  /** Completion tokens the client had received when the stream broke. */
  tokensSent: number;
  /** From the break to the continuing stream's start (or to giving up), in ms after the request arrived. */
  startOffsetMs: number;
  durationMs: number;
}

/** Everything known about one finished request; metrics sinks turn it into their own format. */
export interface RequestRecord {
  ts: number;
  requestId: string;
  /** What the client sent as `model`: a pool, or a name from `models`. */
  model: string;
  /** The pool that answered (differs from `model` after a fallback). */
  pool: string;
  worker: string;
  attempts: AttemptRecord[];
  status: number;
  outcome: RequestOutcome;
  stream: boolean;
  ttftMs: number | undefined;
  latencyMs: number;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  errorCode: string | undefined;
  /** Time the gateway itself spent: total minus the time waiting on workers. */
  gatewayOverheadMs: number;
  keyName: string | undefined;
  traceparent: string | undefined;
  fallbackFrom: string | undefined;
  /** True when the record was written for an aborted stream: token counts may be partial or absent. */
  partial: boolean;
  /** The weights the answering worker serves (its /v1/models `root`, read by the probes), when known. */
  workerModel?: string;
  /** One per finished choice, as the worker wrote it (`stop`, `length`, `tool_calls`, …). */
  finishReasons?: string[];
  /** Per stream break, how its continuation went (`continued`, `restarted`, `tool_call`, `no_worker`, …). */
  continuations?: string[];
  /** Workers whose streams broke and whose answers another worker continued, in order (`worker` ends it). */
  continuedFrom?: string[];
  /** Per stream break: from and to which worker, tokens already sent, when (for trace spans). */
  continuationDetail?: ContinuationRecord[];
  /** Malformed stream events dropped. */
  malformedEvents?: number;
  /** A non-stream request hedged on a second worker: `won` (the hedge answered first), `lost`, `failed`. */
  hedge?: HedgeResult;
  /** How the `model` became a pool (alias, variant, tier decision with its predictions); absent for a pool name. */
  route?: string;
  /** A tier's predicted TTFT for the pool it chose. */
  predictedTtftMs?: number;
  ttftBudgetMs?: number;
  /** Queue position on the answering worker when it was picked: 0 = a batch slot was free. */
  queueAhead?: number;
}

/** A failure an operator should look at (the gateway's or a worker's), not a client's mistake or leaving. */
export function isFailure(record: RequestRecord): boolean {
  return record.status >= 500 || record.outcome === "mid_stream_error" || record.outcome === "timeout";
}
