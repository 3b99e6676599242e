import { expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { WorkerEventBus } from "../health/worker-events.ts";
import { WorkerHealth } from "../health/worker-health.ts";
import { Pools } from "../pool/pools.ts";
import { healthLoadSource } from "./health-load-source.ts";

const URL_A = "http://heavy-0:8000";
const INTERVAL_MS = 1_000;

test.each([
  ["never scraped", undefined, undefined],
  ["fresh scrape", 9_000, 4],
  ["three rounds old, still shown", 7_000, 4],
  ["older than three rounds, unknown", 6_999, undefined],
] as const)("%s", (_name, scrapedAtMs, running) => {
  const config = parseConfig({ pools: { heavy: { workers: [URL_A] } }, health: { intervalMs: INTERVAL_MS } });
  const pools = new Pools(config);
  const nowMs = 10_000;
  const health = new WorkerHealth({ pools, events: new WorkerEventBus(), config: () => config, now: () => nowMs });
  const worker = pools.get("heavy")?.worker(URL_A);
  if (!worker) throw new Error("worker missing");
  if (scrapedAtMs !== undefined) health.loaded(worker, { running: 4, waiting: 1, kvCacheUsage: 0.5, generationTokensTotal: 100, promptTokensTotal: 40, scrapedAtMs });
  const [scraped] = healthLoadSource(pools, health, () => INTERVAL_MS, () => nowMs).snapshot();
  expect(scraped?.pool).toBe("heavy");
  expect(scraped?.worker).toBe(URL_A);
  expect(scraped?.load?.running).toBe(running);
  health.stop();
});
