// Command line of `bun run loadtest -- <scenario> --target URL [...]`.

import { parseArgs } from "node:util";
import { REQUEST_KINDS, type PoolName } from "../scenarios/request-mix.js";
import { SCENARIOS, type ScenarioName } from "../scenarios/scenarios.js";
import type { RunOptions } from "./run-scenario.ts";

export const USAGE = `usage: bun run loadtest -- <scenario> --target URL [options]
scenarios: ${Object.keys(SCENARIOS).join(", ")}
  --target URL              gateway (or worker) base URL, e.g. http://127.0.0.1:8000
  --duration-scale F        multiply every stage's duration (CI: 0.2)      [1]
  --rate-scale F            multiply every stage's arrival rate             [1]
  --max-in-flight N         open-loop bound (default: the scenario's)
  --pool heavy|light        send only that pool's request kinds
  --worker-metrics URL,...  scrape these workers' /metrics for vllm:num_requests_waiting
  --worker-metrics-interval-ms N  how often; the gauge is instantaneous, short queues need short intervals [100]
  --probe                   measure one lone stream first (single-stream tok/s)
  --min-speedup F           fail unless aggregate tok/s >= F × single stream (implies --probe)
  --min-waiting N           fail unless some worker reported num_requests_waiting >= N
  --request-timeout-s N     per request                                     [120]
  --drain-timeout-s N       after the last arrival, then in-flight requests are aborted [60]
  --api-key KEY             sent as Authorization: Bearer KEY
  --seed N                  request-mix seed                                [1]
  --json FILE               also write the full report as JSON`;

export interface CliOptions {
  run: RunOptions;
  jsonPath?: string;
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name}: expected a non-negative number, got "${value}"`);
  return parsed;
}

function optionalNumber(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : numberOption(value, name, 0);
}

export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      target: { type: "string" },
      "duration-scale": { type: "string" },
      "rate-scale": { type: "string" },
      "max-in-flight": { type: "string" },
      pool: { type: "string" },
      "worker-metrics": { type: "string" },
      "worker-metrics-interval-ms": { type: "string" },
      probe: { type: "boolean" },
      "min-speedup": { type: "string" },
      "min-waiting": { type: "string" },
      "request-timeout-s": { type: "string" },
      "drain-timeout-s": { type: "string" },
      "api-key": { type: "string" },
      seed: { type: "string" },
      json: { type: "string" },
    },
  });
  const name = positionals[0];
  if (name === undefined || !(name in SCENARIOS)) throw new Error(`unknown scenario "${name ?? ""}"\n${USAGE}`);
  if (values.target === undefined) throw new Error(`--target is required\n${USAGE}`);
  const pool = values.pool;
  if (pool !== undefined && pool !== "heavy" && pool !== "light") throw new Error(`--pool: expected heavy or light, got "${pool}"`);
  const minSpeedup = optionalNumber(values["min-speedup"], "min-speedup");
  return {
    jsonPath: values.json,
    run: {
      scenario: SCENARIOS[name as ScenarioName],
      target: values.target,
      durationScale: numberOption(values["duration-scale"], "duration-scale", 1),
      rateScale: numberOption(values["rate-scale"], "rate-scale", 1),
      maxInFlight: optionalNumber(values["max-in-flight"], "max-in-flight"),
      workerMetrics: values["worker-metrics"]?.split(",").filter((u) => u !== "") ?? [],
      workerMetricsIntervalMs: numberOption(values["worker-metrics-interval-ms"], "worker-metrics-interval-ms", 100),
      apiKey: values["api-key"],
      requestTimeoutS: numberOption(values["request-timeout-s"], "request-timeout-s", 120),
      drainTimeoutS: numberOption(values["drain-timeout-s"], "drain-timeout-s", 60),
      probe: values.probe === true || minSpeedup !== undefined,
      seed: numberOption(values.seed, "seed", 1),
      kinds: pool === undefined ? undefined : REQUEST_KINDS.filter((k) => k.pool === (pool as PoolName)),
      extra: { minSpeedup, minWaiting: optionalNumber(values["min-waiting"], "min-waiting") },
    },
  };
}
