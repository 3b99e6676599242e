import type { WorkerEvent } from "../health/worker-events.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import type { FeedbackRecord } from "./record-encoding.ts";

/** Where finished-request records and worker events go. `record`/`event` run on the request path: O(1), never await. */
export interface MetricsSink {
  readonly kind: "redis" | "memory";
  record(record: RequestRecord): void;
  event(event: WorkerEvent): void;
  /** A client's quality signal (POST /v1/feedback); bounded and flushed like the records. */
  feedback(feedback: FeedbackRecord): void;
  /** Buffer depth and exact overflow count, for /metrics. */
  stats(): SinkStats;
  /** Flushes what it can within `graceMs`, then releases connections and timers. */
  stop(graceMs: number): Promise<void>;
}

export interface SinkStats {
  /** Entries waiting to be written. */
  buffered: number;
  /** Entries refused because the buffer was full, since start-up. */
  dropped: number;
  /** Entries confirmed written, since start-up. */
  written: number;
  /**
   * Entries other gateway instances had accepted but not written when they died without a clean stop
   * (SIGKILL), as found by this one since start-up. Each loss is claimed by one gateway only.
   */
  lost: number;
}
