import type { FailureKind, ProgressMark, WorkerFeedback } from "../health/worker-feedback.ts";
import type { Pools, Worker } from "../pool/pools.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/** One passive-health signal from a serving thread: the worker by pool and URL, and what happened. */
export type FeedbackReport = readonly [pool: string, url: string, outcome: FailureKind | "success"];

/** The last time a worker sent a byte to a request on a serving thread, in epoch ms (threads share that clock). */
export type ProgressReport = readonly [pool: string, url: string, atEpochMs: number];

/** What a serving thread hands the owner thread in one message. */
export interface ThreadReport {
  readonly records: RequestRecord[];
  readonly feedback: FeedbackReport[];
  readonly progress: ProgressReport[];
}

/** Reports are sent at this size, or after this long, whichever comes first. */
const BATCH_SIZE = 256;
const BATCH_MS = 20;
/** How often the workers' progress marks go to the owner, whose liveness watch reads them. */
const PROGRESS_MS = 250;

interface TrackedMark {
  readonly worker: Worker;
  readonly mark: ProgressMark;
  sentAtMs: number;
}

/**
 * A serving thread's side: finished requests and worker feedback queue up and go to the owner thread in
 * batches (one postMessage per batch, not per request), where health, metrics and the sink live.
 */
export class ThreadReporter {
  readonly #send: (report: ThreadReport) => void;
  #records: RequestRecord[] = [];
  #feedback: FeedbackReport[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #marks = new Map<string, TrackedMark>();

  constructor(send: (report: ThreadReport) => void) {
    this.#send = send;
    setInterval(() => this.#sendProgress(), PROGRESS_MS).unref();
  }

  record(record: RequestRecord): void {
    this.#records.push(record);
    this.#queued();
  }

  /**
   * Passive health for this thread's requests. The request path writes each worker's progress mark per
   * chunk as usual; what moved goes to the owner every PROGRESS_MS, so its frozen check sees these bytes.
   */
  feedback(): WorkerFeedback {
    return {
      success: (worker) => this.#signal(worker, "success"),
      failure: (worker, kind) => this.#signal(worker, kind),
      progressMark: (worker) => this.#markOf(worker),
    };
  }

  /** Sends what is queued now (a draining thread calls it last). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#records.length === 0 && this.#feedback.length === 0) return;
    this.#send({ records: this.#records, feedback: this.#feedback, progress: [] });
    this.#records = [];
    this.#feedback = [];
  }

  #markOf(worker: Worker): ProgressMark {
    const key = `${worker.pool}\u0000${worker.url}`;
    let tracked = this.#marks.get(key);
    if (!tracked) this.#marks.set(key, (tracked = { worker, mark: { atMs: 0 }, sentAtMs: 0 }));
    return tracked.mark;
  }

  #sendProgress(): void {
    const progress: ProgressReport[] = [];
    for (const tracked of this.#marks.values()) {
      if (tracked.mark.atMs <= tracked.sentAtMs) continue;
      tracked.sentAtMs = tracked.mark.atMs;
      progress.push([tracked.worker.pool, tracked.worker.url, performance.timeOrigin + tracked.mark.atMs]);
    }
    if (progress.length > 0) this.#send({ records: [], feedback: [], progress });
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
  for (const [pool, url, atEpochMs] of report.progress) {
    const worker = target.pools.get(pool)?.worker(url);
    if (!worker) continue;
    const mark = target.feedback.progressMark(worker);
    // This thread's monotonic clock starts at its own timeOrigin.
    mark.atMs = Math.max(mark.atMs, atEpochMs - performance.timeOrigin);
  }
  for (const record of report.records) target.record(record);
}
