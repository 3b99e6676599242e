import Redis from "ioredis";
import { type CliSpec, exitWithUsage, parseCommandLine } from "../process/cli.ts";
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

const DEFAULT_WINDOW = "5m";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const OPTIONS = {
  window: { type: "string", value: "DURATION", description: "time window: 30s, 5m, 2h, 1d", default: DEFAULT_WINDOW },
  pool: { type: "string", value: "NAME", description: "only this pool", default: "every pool" },
  json: { type: "boolean", description: "machine-readable output" },
  redis: { type: "string", value: "URL", description: "Redis URL", default: `$REDIS_URL, else ${DEFAULT_REDIS_URL}` },
  follow: { type: "boolean", description: "run the rollup aggregator (ringgate:rollup:<pool>:<minute> hashes) until Ctrl-C" },
  compare: { type: "string", value: "MODEL", description: "one row per variant of MODEL, with feedback and verdicts" },
  baseline: { type: "string", value: "POOL", description: "the variant --compare judges against", default: "the busiest" },
} as const;

export const STATS_CLI: CliSpec<typeof OPTIONS> = {
  usage:
    "bun run stats -- [--window 5m] [--pool NAME] [--json] [--redis URL] [--follow] [--compare MODEL [--baseline POOL]]",
  summary: "Reads the Redis metrics stream and prints latency, TTFT, tokens/s and error rate per pool and worker.",
  options: OPTIONS,
};

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseWindowMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (!match) throw new Error(`--window: got "${text}", expected a number and a unit, e.g. 30s, 5m, 2h`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? "m"] ?? 60_000);
}

async function main(argv: string[]): Promise<number> {
  const { values: parsed } = parseCommandLine(STATS_CLI, argv);
  const values = {
    ...parsed,
    window: parsed.window ?? DEFAULT_WINDOW,
    redis: parsed.redis ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
  };
  let windowMs: number;
  try {
    windowMs = parseWindowMs(values.window);
  } catch (error) {
    exitWithUsage(STATS_CLI, `stats: ${(error as Error).message}`);
  }
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
    throw new Error(`cannot reach Redis at ${values.redis}: ${lastError || (error as Error).message}`);
  }
  try {
    if (values.follow) return await follow(redis);
    if (values.compare !== undefined) {
      const options = { model: values.compare, windowMs, baseline: values.baseline, json: values.json === true };
      process.stdout.write(await compareReport(redis, options));
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
      console.error(`stats: ${message}`);
      process.exit(1);
    },
  );
}
