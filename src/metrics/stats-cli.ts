import Redis from "ioredis";
import { parseArgs } from "node:util";
import { compareReport } from "../experiments/compare-report.ts";
import { followRollups } from "./rollup-follower.ts";
import { readWindow } from "./stream-window.ts";
import { summarize } from "./stats-summary.ts";
import { formatReport } from "./stats-table.ts";

/**
 * `bun run stats [-- --window 5m --pool heavy --json --redis URL]`: per pool and per worker figures
 * from `ringgate:requests`. `--follow` instead runs the consumer-group aggregator that keeps
 * per-minute rollup hashes until interrupted.
 */

const USAGE = `usage: bun run stats -- [--window 5m] [--pool NAME] [--json] [--redis URL] [--follow] [--compare MODEL [--baseline POOL]]
  --window   time window: 30s, 5m, 2h, 1d (default 5m)
  --pool     only this pool
  --json     machine-readable output
  --redis    Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379)
  --follow   run the rollup aggregator (ringgate:rollup:<pool>:<minute> hashes) until Ctrl-C
  --compare  one row per variant (pool) of MODEL, with feedback and significance verdicts against the baseline
  --baseline the variant --compare judges against (default: the one with the most requests)`;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseWindowMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (!match) throw new Error(`--window: got "${text}", expected a number and a unit, e.g. 30s, 5m, 2h`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? "m"] ?? 60_000);
}

/** Not a usage mistake: reported without the usage text. */
class RedisUnreachable extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      window: { type: "string", default: "5m" },
      pool: { type: "string" },
      json: { type: "boolean", default: false },
      redis: { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
      follow: { type: "boolean", default: false },
      compare: { type: "string" },
      baseline: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const windowMs = parseWindowMs(values.window);
  const redis = new Redis(values.redis, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 1,
    // A one-shot report fails fast; the aggregator keeps reconnecting with a capped backoff.
    retryStrategy: (times) => (values.follow ? Math.min(100 * 2 ** Math.min(times, 5), 2_000) : null),
  });
  let lastError = "";
  redis.on("error", (error: Error) => {
    lastError = error.message;
  });
  try {
    await redis.connect();
  } catch (error) {
    throw new RedisUnreachable(`cannot reach Redis at ${values.redis}: ${lastError || (error as Error).message}`);
  }
  try {
    if (values.follow) return await follow(redis);
    if (values.compare !== undefined) {
      process.stdout.write(await compareReport(redis, { model: values.compare, windowMs, baseline: values.baseline, json: values.json === true }));
      return 0;
    }
    const records = await readWindow(redis, Date.now() - windowMs, values.pool);
    const report = summarize(records, windowMs);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    redis.disconnect();
  }
}

async function follow(redis: Redis): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let total = 0;
  console.error("stats: following ringgate:requests into ringgate:rollup:<pool>:<minute> (Ctrl-C to stop)");
  await followRollups({ redis, signal: controller.signal, onBatch: (count) => (total += count) });
  console.error(`stats: rolled up ${total} records`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      console.error(error instanceof RedisUnreachable ? `stats: ${message}` : `stats: ${message}\n${USAGE}`);
      process.exit(1);
    },
  );
}
