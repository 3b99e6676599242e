import { type Quantiles, quantiles } from "./percentiles.ts";
import type { StoredRecord } from "./record-encoding.ts";

/** Requests refused before a pool was chosen (unknown model, invalid body, auth). */
export const UNROUTED = "(unrouted)";

export interface GroupStats {
  requests: number;
  /** Requests with an error code, by code. */
  errors: Record<string, number>;
  /** Share of requests with an error code (0..1). */
  errorRate: number;
  latencyMs: Quantiles;
  /** Streaming requests that got a first token. */
  ttftMs: Quantiles;
  promptTokens: number;
  completionTokens: number;
  /** Completion tokens per second of the window. */
  completionTokensPerS: number;
}

export interface PoolStats extends GroupStats {
  pool: string;
  workers: (GroupStats & { worker: string })[];
}

export interface StatsReport {
  windowMs: number;
  pools: PoolStats[];
}

/** Per pool and per worker figures over `records`, which cover a window of `windowMs`. */
export function summarize(records: readonly StoredRecord[], windowMs: number): StatsReport {
  const byPool = groupBy(records, (record) => record.pool || UNROUTED);
  const pools = [...byPool.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([pool, poolRecords]): PoolStats => {
      const byWorker = groupBy(poolRecords.filter((record) => record.worker !== ""), (record) => record.worker);
      const workers = [...byWorker.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([worker, workerRecords]) => ({ worker, ...groupStats(workerRecords, windowMs) }));
      return { pool, ...groupStats(poolRecords, windowMs), workers };
    });
  return { windowMs, pools };
}

function groupStats(records: readonly StoredRecord[], windowMs: number): GroupStats {
  const errors: Record<string, number> = {};
  let failed = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  for (const record of records) {
    if (record.errorCode) {
      errors[record.errorCode] = (errors[record.errorCode] ?? 0) + 1;
      failed++;
    }
    latencies.push(record.latencyMs);
    if (record.stream && record.ttftMs !== undefined) ttfts.push(record.ttftMs);
    promptTokens += record.promptTokens ?? 0;
    completionTokens += record.completionTokens ?? 0;
  }
  return {
    requests: records.length,
    errors,
    errorRate: records.length === 0 ? 0 : failed / records.length,
    latencyMs: quantiles(latencies),
    ttftMs: quantiles(ttfts),
    promptTokens,
    completionTokens,
    completionTokensPerS: windowMs > 0 ? completionTokens / (windowMs / 1000) : 0,
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name);
    if (group) group.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}
