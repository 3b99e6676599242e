// Command line of `bun run loadtest -- <scenario> --target URL [...]`.

import { type CliSpec, exitWithUsage, parseCommandLine } from "../../src/process/cli.ts";
import { REQUEST_KINDS, type PoolName } from "../scenarios/request-mix.js";
import { SCENARIOS, type ScenarioName } from "../scenarios/scenarios.js";
import type { RunOptions } from "./run-scenario.ts";

const OPTIONS = {
  target: { type: "string", value: "URL", description: "gateway (or worker) base URL, e.g. http://127.0.0.1:8000 (required)" },
  "duration-scale": { type: "string", value: "F", description: "multiply every stage's duration (CI: 0.2)", default: "1" },
  "rate-scale": { type: "string", value: "F", description: "multiply every stage's arrival rate", default: "1" },
  "max-in-flight": { type: "string", value: "N", description: "open-loop bound", default: "the scenario's" },
  pool: { type: "string", value: "heavy|light", description: "send only that pool's request kinds", default: "both" },
  "worker-metrics": { type: "string", value: "URL,...", description: "scrape these workers' /metrics for vllm:num_requests_waiting", default: "none" },
  "worker-metrics-interval-ms": { type: "string", value: "N", description: "scrape interval; the gauge is instantaneous", default: "100" },
  probe: { type: "boolean", description: "measure one lone stream first (single-stream tok/s)" },
  "min-speedup": { type: "string", value: "F", description: "fail unless aggregate tok/s >= F × single stream (implies --probe)", default: "no check" },
  "min-waiting": { type: "string", value: "N", description: "fail unless some worker reported num_requests_waiting >= N", default: "no check" },
  "request-timeout-s": { type: "string", value: "N", description: "per request", default: "120" },
  "drain-timeout-s": { type: "string", value: "N", description: "after the last arrival, then in-flight requests are aborted", default: "60" },
  "api-key": { type: "string", value: "KEY", description: "sent as Authorization: Bearer KEY", default: "none" },
  seed: { type: "string", value: "N", description: "request-mix seed", default: "1" },
  json: { type: "string", value: "FILE", description: "also write the full report as JSON", default: "none" },
} as const;

export const LOADTEST_CLI: CliSpec<typeof OPTIONS> = {
  usage: "bun run loadtest -- <scenario> --target URL [options]",
  summary: "Runs one of the k6 scenarios with Bun: open-loop arrivals, a summary table, exit 1 when a threshold fails.",
  options: OPTIONS,
  allowPositionals: true,
  notes: `scenarios: ${Object.keys(SCENARIOS).join(", ")}; also sessions and sessions-compare (see --help after them), and ttft-prediction`,
};

export interface CliOptions {
  run: RunOptions;
  jsonPath?: string;
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) exitWithUsage(LOADTEST_CLI, `--${name}: expected a non-negative number, got "${value}"`);
  return parsed;
}

function optionalNumber(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : numberOption(value, name, 0);
}

/** Parses the command line; `--help` exits 0 with the usage, a wrong option or value exits 2 with it. */
export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals } = parseCommandLine(LOADTEST_CLI, argv);
  const name = positionals[0];
  if (name === undefined || !(name in SCENARIOS)) exitWithUsage(LOADTEST_CLI, `unknown scenario "${name ?? ""}"`);
  if (positionals.length > 1) exitWithUsage(LOADTEST_CLI, `unexpected argument "${positionals[1]}"`);
  if (values.target === undefined) exitWithUsage(LOADTEST_CLI, "--target is required");
  const pool = values.pool;
  if (pool !== undefined && pool !== "heavy" && pool !== "light") exitWithUsage(LOADTEST_CLI, `--pool: expected heavy or light, got "${pool}"`);
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
