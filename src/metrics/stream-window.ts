import type Redis from "ioredis";
import { decodeRecord, REQUESTS_STREAM, type StoredRecord } from "./record-encoding.ts";

const PAGE = 10_000;

/**
 * The records of `ringgate:requests` with `ts >= sinceMs` (optionally one pool), read in pages.
 * Entry ids are the write time, never earlier than a record's `ts`, so starting the scan at `sinceMs`
 * misses nothing; records buffered across an outage are filtered by their own `ts`.
 */
export function readWindow(redis: Redis, sinceMs: number, pool?: string): Promise<StoredRecord[]> {
  return readStreamSince(redis, REQUESTS_STREAM, sinceMs, decodeRecord, (record) =>
    record.ts >= sinceMs && (pool === undefined || record.pool === pool),
  );
}

/** The entries of `stream` from id `sinceMs` on, decoded, that `keep` accepts; read in pages. */
export async function readStreamSince<T>(
  redis: Redis,
  stream: string,
  sinceMs: number,
  decode: (fields: readonly string[]) => T,
  keep: (entry: T) => boolean,
): Promise<T[]> {
  const out: T[] = [];
  let start = String(Math.max(0, Math.floor(sinceMs)));
  for (;;) {
    const entries = await redis.xrange(stream, start, "+", "COUNT", PAGE);
    for (const [, fields] of entries) {
      const entry = decode(fields);
      if (keep(entry)) out.push(entry);
    }
    const last = entries.at(-1);
    if (!last || entries.length < PAGE) return out;
    start = `(${last[0]}`;
  }
}
