import type { WorkerEvent } from "../health/worker-events.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import type { MetricsSink, SinkStats } from "./metrics-sink.ts";
import type { FeedbackRecord } from "./record-encoding.ts";

/**
 * The sink without Redis: keeps only the newest `capacity` records and events in memory (for /admin
 * and tests). Older ones roll off by design, so nothing counts as dropped.
 */
export class MemorySink implements MetricsSink {
  readonly kind = "memory";
  readonly #capacity: number;
  readonly #records: RequestRecord[] = [];
  readonly #events: WorkerEvent[] = [];
  readonly #feedback: FeedbackRecord[] = [];
  #next = 0;
  #total = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  record(record: RequestRecord): void {
    if (this.#records.length < this.#capacity) this.#records.push(record);
    else this.#records[this.#next] = record;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#total++;
  }

  event(event: WorkerEvent): void {
    this.#events.push(event);
    if (this.#events.length > this.#capacity) this.#events.shift();
  }

  feedback(feedback: FeedbackRecord): void {
    this.#feedback.push(feedback);
    if (this.#feedback.length > this.#capacity) this.#feedback.shift();
  }

  /** The kept records, oldest first. */
  records(): RequestRecord[] {
    if (this.#records.length < this.#capacity) return [...this.#records];
    return [...this.#records.slice(this.#next), ...this.#records.slice(0, this.#next)];
  }

  events(): WorkerEvent[] {
    return [...this.#events];
  }

  stats(): SinkStats {
    return { buffered: 0, dropped: 0, written: this.#total, lost: 0 };
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
