import type Redis from "ioredis";
import { decodeRecord, REQUESTS_STREAM, type StoredRecord } from "./record-encoding.ts";

const PAGE = 10_000;

/**
 * The records of `ringgate:requests` with `ts >= sinceMs` (optionally one pool), read in pages.
 * Entry ids are the write time, never earlier than a record's `ts`, so starting the scan at `sinceMs`
 * misses nothing; records buffered across an outage are filtered by their own `ts`.
 */
export async function readWindow(redis: Redis, sinceMs: number, pool?: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let start = String(Math.max(0, Math.floor(sinceMs)));
  for (;;) {
    const entries = await redis.xrange(REQUESTS_STREAM, start, "+", "COUNT", PAGE);
    for (const [, fields] of entries) {
      const record = decodeRecord(fields);
      if (record.ts >= sinceMs && (pool === undefined || record.pool === pool)) out.push(record);
    }
    const last = entries.at(-1);
    if (!last || entries.length < PAGE) return out;
    start = `(${last[0]}`;
  }
}
