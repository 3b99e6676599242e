// Turns raw per-request results into the run report and checks it against the scenario's promises.

import type { PoolName } from "../scenarios/request-mix.js";
import type { Thresholds } from "../scenarios/scenarios.js";
import type { OpenLoopStats } from "./open-loop.ts";
import { percentile } from "./percentile.ts";
import type { RequestResult } from "./send-request.ts";
import type { StageSummary } from "./stage-tracker.ts";
import type { WorkerQueueStats } from "./worker-metrics.ts";

export interface PoolSummary {
  pool: PoolName;
  requests: number;
  errors: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  itlP50Ms: number;
  itlP95Ms: number;
  /** Median per-stream decode speed: completion tokens over the stream's own duration. */
  streamTokensPerSP50: number;
}

export interface ThresholdCheck {
  name: string;
  limit: string;
  actual: number;
  ok: boolean;
}

export interface RunReport {
  scenario: string;
  target: string;
  startedAt: string;
  wallS: number;
  fired: number;
  dropped: number;
  errors: number;
  errorRate: number;
  errorsByClass: Record<string, number>;
  latencyP50Ms: number;
  latencyP95Ms: number;
  pools: PoolSummary[];
  completionTokens: number;
  busyS: number;
  /** Completion tokens over the time with work in flight: the batching-absorbs-the-burst figure. */
  aggregateTokensPerS: number;
  singleStreamTokensPerS?: number;
  speedupVsSingleStream?: number;
  maxLagMs: number;
  workers: WorkerQueueStats[];
  /** Per arrival stage with traffic: a ramp's capacity curve, a burst's spikes one by one. */
  stages: StageSummary[];
  /** Why scheduling stopped before the last stage (ramp: the step that broke a promise). */
  stoppedEarly?: string;
  checks: ThresholdCheck[];
  passed: boolean;
}

export interface ExtraChecks {
  minSpeedup?: number;
  minWaiting?: number;
}

export interface ReportInput {
  scenario: string;
  target: string;
  startedAt: Date;
  wallMs: number;
  results: readonly RequestResult[];
  loop: OpenLoopStats;
  workers: WorkerQueueStats[];
  singleStreamTokensPerS?: number;
  stages: StageSummary[];
  stoppedEarly?: string;
  thresholds: Thresholds;
  extra: ExtraChecks;
}

export function streamTokensPerS(result: RequestResult): number {
  const seconds = (result.endMs - result.startMs) / 1000;
  return seconds > 0 ? result.completionTokens / seconds : 0;
}

function summarizePool(pool: PoolName, results: readonly RequestResult[]): PoolSummary {
  const mine = results.filter((r) => r.pool === pool);
  const good = mine.filter((r) => r.error === undefined);
  const streams = good.filter((r) => r.stream);
  const ttfts = good.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs]));
  const itls = streams.flatMap((r) => r.itlMs);
  return {
    pool,
    requests: mine.length,
    errors: mine.length - good.length,
    ttftP50Ms: percentile(ttfts, 50),
    ttftP95Ms: percentile(ttfts, 95),
    itlP50Ms: percentile(itls, 50),
    itlP95Ms: percentile(itls, 95),
    streamTokensPerSP50: percentile(streams.map(streamTokensPerS), 50),
  };
}

export function buildReport(input: ReportInput): RunReport {
  const { results, loop } = input;
  const errorsByClass: Record<string, number> = {};
  for (const r of results) if (r.error !== undefined) errorsByClass[r.error] = (errorsByClass[r.error] ?? 0) + 1;
  // A dropped arrival is a request the game would have sent and not had answered.
  if (loop.dropped > 0) errorsByClass.dropped = loop.dropped;
  const errors = Object.values(errorsByClass).reduce((a, b) => a + b, 0);
  const attempted = results.length + loop.dropped;
  const completionTokens = results.reduce((sum, r) => sum + (r.error === undefined ? r.completionTokens : 0), 0);
  const busyS = loop.busyMs / 1000;
  const aggregateTokensPerS = busyS > 0 ? completionTokens / busyS : 0;
  const latencies = results.filter((r) => r.error === undefined).map((r) => r.endMs - r.startMs);
  const pools = (["heavy", "light"] as const)
    .map((pool) => summarizePool(pool, results))
    .filter((p) => p.requests > 0);
  const report: RunReport = {
    scenario: input.scenario,
    target: input.target,
    startedAt: input.startedAt.toISOString(),
    wallS: input.wallMs / 1000,
    fired: loop.fired,
    dropped: loop.dropped,
    errors,
    errorRate: attempted > 0 ? errors / attempted : 0,
    errorsByClass,
    latencyP50Ms: percentile(latencies, 50),
    latencyP95Ms: percentile(latencies, 95),
    pools,
    completionTokens,
    busyS,
    aggregateTokensPerS,
    maxLagMs: loop.maxLagMs,
    workers: input.workers,
    stages: input.stages,
    checks: [],
    passed: true,
  };
  if (input.stoppedEarly !== undefined) report.stoppedEarly = input.stoppedEarly;
  if (input.singleStreamTokensPerS !== undefined && input.singleStreamTokensPerS > 0) {
    report.singleStreamTokensPerS = input.singleStreamTokensPerS;
    report.speedupVsSingleStream = aggregateTokensPerS / input.singleStreamTokensPerS;
  }
  report.checks = evaluateChecks(report, input.thresholds, input.extra);
  report.passed = report.checks.every((c) => c.ok);
  return report;
}

function evaluateChecks(report: RunReport, thresholds: Thresholds, extra: ExtraChecks): ThresholdCheck[] {
  const checks: ThresholdCheck[] = [
    {
      name: "error rate",
      limit: `<= ${thresholds.maxErrorRate}`,
      actual: report.errorRate,
      ok: report.fired + report.dropped > 0 && report.errorRate <= thresholds.maxErrorRate,
    },
  ];
  for (const pool of report.pools) {
    const limitMs = thresholds.ttftP95Ms[pool.pool];
    // NaN (no successful request) must fail, hence the explicit comparison direction.
    checks.push({ name: `p95 TTFT ${pool.pool}`, limit: `<= ${limitMs} ms`, actual: pool.ttftP95Ms, ok: pool.ttftP95Ms <= limitMs });
  }
  if (extra.minSpeedup !== undefined) {
    const actual = report.speedupVsSingleStream ?? 0;
    checks.push({ name: "aggregate tok/s ÷ single stream", limit: `>= ${extra.minSpeedup}`, actual, ok: actual >= extra.minSpeedup });
  }
  if (extra.minWaiting !== undefined) {
    const actual = Math.max(0, ...report.workers.map((w) => w.maxWaiting));
    checks.push({ name: "max vllm:num_requests_waiting", limit: `>= ${extra.minWaiting}`, actual, ok: actual >= extra.minWaiting });
  }
  return checks;
}
