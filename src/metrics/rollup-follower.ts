import type Redis from "ioredis";
import { logger } from "../log.ts";
import { decodeRecord, REQUESTS_STREAM } from "./record-encoding.ts";
import { rollupIncrement } from "./rollup.ts";

export const ROLLUP_GROUP = "ringgate-rollup";

export interface FollowOptions {
  redis: Redis;
  signal: AbortSignal;
  consumer?: string;
  batchSize?: number;
  blockMs?: number;
  /** Rollup hashes expire this long after their last update. */
  retentionS?: number;
  /** Called after each batch was applied and acknowledged. */
  onBatch?: (records: number) => void;
}

type Entry = [id: string, fields: string[]];

/**
 * Consumer-group aggregator: reads `ringgate:requests` through group `ringgate-rollup` (from the
 * stream's start the first time, where it left off afterwards) and keeps per-minute rollup hashes
 * `ringgate:rollup:<pool>:<minute>`. A batch is acknowledged only after its increments were written;
 * a crash in between re-applies that batch on restart (at-least-once).
 */
export async function followRollups(options: FollowOptions): Promise<void> {
  const { redis, signal } = options;
  const consumer = options.consumer ?? `stats-${process.pid}`;
  await createGroup(redis);
  // Our own unacknowledged entries first (a previous run that died mid-batch), then new ones.
  let cursor = "0";
  while (!signal.aborted) {
    try {
      const entries = await readBatch(redis, consumer, cursor, options);
      if (entries.length === 0) {
        cursor = ">";
        continue;
      }
      await apply(redis, entries, options.retentionS ?? 7 * 86_400);
      options.onBatch?.(entries.length);
    } catch (error) {
      if (signal.aborted) break;
      logger.warn({ err: (error as Error).message }, "stats: rollup batch failed; retrying from the pending entries");
      await Bun.sleep(1_000);
      cursor = "0";
    }
  }
}

async function createGroup(redis: Redis): Promise<void> {
  try {
    await redis.xgroup("CREATE", REQUESTS_STREAM, ROLLUP_GROUP, "0", "MKSTREAM");
  } catch (error) {
    if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
  }
}

async function readBatch(redis: Redis, consumer: string, cursor: string, options: FollowOptions): Promise<Entry[]> {
  const args: (string | number)[] = ["GROUP", ROLLUP_GROUP, consumer, "COUNT", options.batchSize ?? 500];
  if (cursor === ">") args.push("BLOCK", options.blockMs ?? 1_000);
  const reply = await redis.call("XREADGROUP", ...args, "STREAMS", REQUESTS_STREAM, cursor);
  return entriesOf(reply);
}

/**
 * XREADGROUP's reply for one stream: RESP2 `[[stream, items]]`, or RESP3's map flattened by ioredis to
 * `[stream, items]`; null when nothing arrived. Trimmed-away pending entries have null fields.
 */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const pair: unknown = typeof reply[0] === "string" ? reply : reply[0];
  if (!Array.isArray(pair) || !Array.isArray(pair[1])) return [];
  const out: Entry[] = [];
  for (const item of pair[1] as unknown[]) {
    if (!Array.isArray(item) || typeof item[0] !== "string") continue;
    out.push([item[0], Array.isArray(item[1]) ? (item[1] as string[]) : []]);
  }
  return out;
}

async function apply(redis: Redis, entries: Entry[], retentionS: number): Promise<void> {
  const pipeline = redis.pipeline();
  const keys = new Set<string>();
  for (const [, fields] of entries) {
    if (fields.length === 0) continue;
    const { key, fields: increments } = rollupIncrement(decodeRecord(fields));
    for (const [field, amount] of increments) pipeline.hincrbyfloat(key, field, amount);
    keys.add(key);
  }
  for (const key of keys) pipeline.expire(key, retentionS);
  pipeline.xack(REQUESTS_STREAM, ROLLUP_GROUP, ...entries.map(([id]) => id));
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}
