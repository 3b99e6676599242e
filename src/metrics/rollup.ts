import type { StoredRecord } from "./record-encoding.ts";
import { UNROUTED } from "./stats-summary.ts";

/** Upper bounds (ms) of the latency and TTFT buckets kept per minute; a last bucket takes the rest. */
export const ROLLUP_BUCKETS_MS = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000];

export interface RollupIncrement {
  /** `ringgate:rollup:<pool>:<YYYYMMDDHHmm UTC>`. */
  key: string;
  /** Hash field → amount to add. */
  fields: [string, number][];
}

/**
 * What one record adds to its pool's per-minute hash: counts, sums and bucket counts, all additive so
 * several aggregators or a replay simply add up and dashboards read one small hash per minute.
 */
export function rollupIncrement(record: StoredRecord): RollupIncrement {
  const pool = record.pool || UNROUTED;
  const fields: [string, number][] = [
    ["requests", 1],
    ["latency_ms_sum", record.latencyMs],
    [`latency_ms_bucket:${bucketOf(record.latencyMs)}`, 1],
    [`outcome:${record.outcome}`, 1],
  ];
  if (record.errorCode) fields.push(["errors", 1], [`error:${record.errorCode}`, 1]);
  if (record.stream && record.ttftMs !== undefined) {
    fields.push(["ttft_count", 1], ["ttft_ms_sum", record.ttftMs], [`ttft_ms_bucket:${bucketOf(record.ttftMs)}`, 1]);
  }
  if (record.promptTokens) fields.push(["prompt_tokens", record.promptTokens]);
  if (record.completionTokens) fields.push(["completion_tokens", record.completionTokens]);
  if (record.worker) {
    fields.push([`worker:${record.worker}:requests`, 1]);
    if (record.errorCode) fields.push([`worker:${record.worker}:errors`, 1]);
  }
  return { key: `ringgate:rollup:${pool}:${minuteOf(record.ts)}`, fields };
}

function bucketOf(valueMs: number): string {
  const bound = ROLLUP_BUCKETS_MS.find((le) => valueMs <= le);
  return bound === undefined ? "inf" : String(bound);
}

/** `YYYYMMDDHHmm` in UTC: sortable, readable in redis-cli. */
export function minuteOf(tsMs: number): string {
  return new Date(tsMs).toISOString().slice(0, 16).replace(/[-T:]/g, "");
}
