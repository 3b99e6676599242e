import { percentile } from "../metrics/percentiles.ts";
import { isFailure, type RequestRecord } from "../proxy/request-record.ts";

/** One point of a chart: what finished in one bucket of time. Latencies are null in a bucket without any. */
export interface SeriesPoint {
  /** Epoch ms of the bucket's start. */
  t: number;
  requests: number;
  errors: number;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  tokensPerS: number;
}

export interface TimeSeriesOptions {
  bucketMs?: number;
  buckets?: number;
  /** Latency values kept per bucket for its percentiles; past it, reservoir sampling keeps the bound. */
  maxValuesPerBucket?: number;
  /** Epoch ms. */
  now?: () => number;
  random?: () => number;
}

interface Bucket {
  start: number;
  requests: number;
  errors: number;
  tokens: number;
  ttftMs: number[];
  latencyMs: number[];
  /** Set once the bucket is over: its point never changes again, so its percentiles are computed once. */
  closed?: SeriesPoint;
}

/** The series of all traffic, beside one per pool. */
export const ALL = "*";

/**
 * A ring of short buckets per pool (5 minutes of 2 s by default), fed by finished requests: what the
 * dashboard charts. Recording is O(1); percentiles are computed when the page asks, over bounded arrays.
 */
export class TimeSeries {
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #maxValues: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #byPool = new Map<string, Bucket[]>();

  constructor(options: TimeSeriesOptions = {}) {
    this.#bucketMs = options.bucketMs ?? 2_000;
    this.#buckets = options.buckets ?? 150;
    this.#maxValues = options.maxValuesPerBucket ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Adds a finished request to all traffic and to the series `key` (its pool unless told otherwise). */
  record(record: RequestRecord, key = record.pool): void {
    const start = this.#bucketStart(this.#now());
    this.#add(this.#current(ALL, start), record);
    if (key !== "") this.#add(this.#current(key, start), record);
  }

  /** Counts one request under `key` alone: no latencies kept, nothing added to all traffic. */
  count(key: string): void {
    this.#current(key, this.#bucketStart(this.#now())).requests++;
  }

  /** Requests of the series `key` in the window: the sum of its points' `requests`, without the percentiles. */
  requests(key: string): number {
    const last = this.#bucketStart(this.#now());
    const first = last - (this.#buckets - 1) * this.#bucketMs;
    let total = 0;
    for (const bucket of this.#byPool.get(key) ?? []) {
      if (bucket.start >= first && bucket.start <= last) total += bucket.requests;
    }
    return total;
  }

  /** Pools with any traffic in the window, `*` first. */
  pools(): string[] {
    return [...this.#byPool.keys()];
  }

  /** Every bucket of the window, oldest first, zeros where nothing finished; the last one is in progress. */
  points(pool: string): SeriesPoint[] {
    const now = this.#now();
    const last = this.#bucketStart(now);
    const byStart = new Map((this.#byPool.get(pool) ?? []).map((bucket) => [bucket.start, bucket]));
    const points: SeriesPoint[] = [];
    for (let index = this.#buckets - 1; index >= 0; index--) {
      const start = last - index * this.#bucketMs;
      const bucket = byStart.get(start);
      if (start === last) points.push(toPoint(start, bucket, Math.max(1, now - start)));
      else points.push(bucket ? close(bucket, this.#bucketMs) : toPoint(start, undefined, this.#bucketMs));
    }
    return points;
  }

  #bucketStart(nowMs: number): number {
    return nowMs - (nowMs % this.#bucketMs);
  }

  #current(pool: string, start: number): Bucket {
    let ring = this.#byPool.get(pool);
    if (!ring) {
      ring = [];
      this.#byPool.set(pool, ring);
    }
    const last = ring[ring.length - 1];
    if (last?.start === start) return last;
    const bucket: Bucket = { start, requests: 0, errors: 0, tokens: 0, ttftMs: [], latencyMs: [] };
    ring.push(bucket);
    if (ring.length > this.#buckets) ring.shift();
    return bucket;
  }

  #add(bucket: Bucket, record: RequestRecord): void {
    bucket.requests++;
    if (isFailure(record)) bucket.errors++;
    bucket.tokens += record.completionTokens ?? 0;
    if (record.outcome !== "ok") return;
    if (record.ttftMs !== undefined) this.#keep(bucket.ttftMs, bucket.requests, record.ttftMs);
    this.#keep(bucket.latencyMs, bucket.requests, record.latencyMs);
  }

  /** Reservoir sampling: a full array replaces a random entry with probability size/seen. */
  #keep(values: number[], seen: number, value: number): void {
    if (values.length < this.#maxValues) values.push(value);
    else {
      const slot = Math.floor(this.#random() * seen);
      if (slot < this.#maxValues) values[slot] = value;
    }
  }
}

function close(bucket: Bucket, bucketMs: number): SeriesPoint {
  if (!bucket.closed) {
    bucket.closed = toPoint(bucket.start, bucket, bucketMs);
    bucket.ttftMs = [];
    bucket.latencyMs = [];
  }
  return bucket.closed;
}

function toPoint(start: number, bucket: Bucket | undefined, elapsedMs: number): SeriesPoint {
  if (!bucket) {
    const empty = { ttftP50Ms: null, ttftP95Ms: null, latencyP50Ms: null, latencyP95Ms: null };
    return { t: start, requests: 0, errors: 0, ...empty, tokensPerS: 0 };
  }
  const ttft = [...bucket.ttftMs].sort((a, b) => a - b);
  const latency = [...bucket.latencyMs].sort((a, b) => a - b);
  return {
    t: start,
    requests: bucket.requests,
    errors: bucket.errors,
    ttftP50Ms: percentile(ttft, 50) ?? null,
    ttftP95Ms: percentile(ttft, 95) ?? null,
    latencyP50Ms: percentile(latency, 50) ?? null,
    latencyP95Ms: percentile(latency, 95) ?? null,
    tokensPerS: Math.round((bucket.tokens / elapsedMs) * 1000 * 10) / 10,
  };
}
