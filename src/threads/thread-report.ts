import type { FailureKind, ProgressMark, WorkerFeedback } from "../health/worker-feedback.ts";
import type { Pools, Worker } from "../pool/pools.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/** One passive-health signal from a serving thread: the worker by pool and URL, and what happened. */
export type FeedbackReport = readonly [pool: string, url: string, outcome: FailureKind | "success"];

/** What a serving thread hands the owner thread in one message. */
export interface ThreadReport {
  readonly records: RequestRecord[];
  readonly feedback: FeedbackReport[];
}

/** Reports are sent at this size, or after this long, whichever comes first. */
const BATCH_SIZE = 256;
const BATCH_MS = 20;

/**
 * A serving thread's side: finished requests and worker feedback queue up and go to the owner thread in
 * batches (one postMessage per batch, not per request), where health, metrics and the sink live.
 */
export class ThreadReporter {
  readonly #send: (report: ThreadReport) => void;
  #records: RequestRecord[] = [];
  #feedback: FeedbackReport[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(send: (report: ThreadReport) => void) {
    this.#send = send;
  }

  record(record: RequestRecord): void {
    this.#records.push(record);
    this.#queued();
  }

  /**
   * Passive health for this thread's requests. Progress marks stay in the thread: the owner's frozen check
   * then sees silence and asks the worker's /health, which a working worker answers.
   */
  feedback(): WorkerFeedback {
    const mark: ProgressMark = { atMs: 0 };
    return {
      success: (worker) => this.#signal(worker, "success"),
      failure: (worker, kind) => this.#signal(worker, kind),
      progressMark: () => mark,
    };
  }

  /** Sends what is queued now (a draining thread calls it last). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#records.length === 0 && this.#feedback.length === 0) return;
    this.#send({ records: this.#records, feedback: this.#feedback });
    this.#records = [];
    this.#feedback = [];
  }

  #signal(worker: Worker, outcome: FailureKind | "success"): void {
    this.#feedback.push([worker.pool, worker.url, outcome]);
    this.#queued();
  }

  #queued(): void {
    if (this.#records.length + this.#feedback.length >= BATCH_SIZE) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }
}

/** The owner thread's side: a report reaches the same listeners and health as its own requests. */
export function applyThreadReport(
  report: ThreadReport,
  target: { pools: Pools; feedback: WorkerFeedback; record(record: RequestRecord): void },
): void {
  for (const [pool, url, outcome] of report.feedback) {
    // A worker removed while the report was on its way has no health left to tell.
    const worker = target.pools.get(pool)?.worker(url);
    if (!worker) continue;
    if (outcome === "success") target.feedback.success(worker);
    else target.feedback.failure(worker, outcome);
  }
  for (const record of report.records) target.record(record);
}
