import type { RequestRecord } from "../proxy/request-record.ts";

/** What feedback needs to know about an answered request. */
export interface RecentRequest {
  finishedAtMs: number;
  model: string;
  pool: string;
  worker: string;
  workerModel: string | undefined;
  keyName: string | undefined;
  answered: boolean;
}

export type Lookup = { found: RecentRequest } | { missing: "unknown" | "expired" };

export interface RecentRequestsOptions {
  /** Most requests remembered; the oldest is forgotten first. */
  capacity: number;
  /** Feedback later than this after the answer is refused. */
  maxAgeMs: number;
  now?: () => number;
}

/**
 * A bounded index of finished requests by id, fed from the gateway's onFinish: O(1) per request (a Map
 * keeps insertion order, so the oldest entry is the first key). Memory is capped by `capacity`; age is
 * checked on lookup, so an entry past `maxAgeMs` still in the map is told apart from one never seen.
 */
export class RecentRequests {
  readonly #entries = new Map<string, RecentRequest>();
  readonly #capacity: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: RecentRequestsOptions) {
    this.#capacity = options.capacity;
    this.#maxAgeMs = options.maxAgeMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  remember(record: RequestRecord, workerModel: string | undefined): void {
    // Refused before routing: nothing served it, so there is nothing to rate.
    if (record.outcome === "rejected" || record.requestId === "") return;
    // A reused id moves to the newest position.
    this.#entries.delete(record.requestId);
    this.#entries.set(record.requestId, {
      finishedAtMs: this.#now(),
      model: record.model,
      pool: record.pool,
      worker: record.worker,
      workerModel,
      keyName: record.keyName,
      answered: record.outcome === "ok",
    });
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  lookup(requestId: string): Lookup {
    const entry = this.#entries.get(requestId);
    if (!entry) return { missing: "unknown" };
    if (this.#now() - entry.finishedAtMs > this.#maxAgeMs) return { missing: "expired" };
    return { found: entry };
  }
}
