// Runs one scenario against a target: optional single-stream probe, the open-loop arrivals, worker
// queue polling, then the report.

import { buildRequestBody, pickKind, REQUEST_KINDS, type RequestKind } from "../scenarios/request-mix.js";
import { totalDurationS, type Scenario, type Stage } from "../scenarios/scenarios.js";
import { seededRandom } from "../scenarios/seeded-random.js";
import { buildReport, streamTokensPerS, type ExtraChecks, type RunReport } from "./build-report.ts";
import { runOpenLoop } from "./open-loop.ts";
import { sendRequest, type RequestResult } from "./send-request.ts";
import { StageTracker } from "./stage-tracker.ts";
import { WorkerMetricsPoller } from "./worker-metrics.ts";

export interface RunOptions {
  scenario: Scenario;
  /** Gateway or worker base URL; /v1/chat/completions is appended unless already there. */
  target: string;
  durationScale: number;
  rateScale: number;
  maxInFlight?: number;
  workerMetrics: readonly string[];
  workerMetricsIntervalMs: number;
  apiKey?: string;
  requestTimeoutS: number;
  /** Grace after the last arrival before in-flight requests are aborted as timeouts. */
  drainTimeoutS: number;
  /** Measure one lone stream first, the reference for the batching speed-up. */
  probe: boolean;
  seed: number;
  kinds?: readonly RequestKind[];
  extra: ExtraChecks;
}

export function chatUrl(target: string): string {
  const trimmed = target.replace(/\/$/, "");
  return trimmed.endsWith("/v1/chat/completions") ? trimmed : `${trimmed}/v1/chat/completions`;
}

export function scaleStages(stages: readonly Stage[], durationScale: number, rateScale: number): Stage[] {
  return stages.map((s) => ({ durationS: s.durationS * durationScale, ratePerS: s.ratePerS * rateScale }));
}

async function probeSingleStream(url: string, options: RunOptions): Promise<number | undefined> {
  const kind = (options.kinds ?? REQUEST_KINDS).find((k) => k.stream);
  if (kind === undefined) return undefined;
  const result = await sendRequest(buildRequestBody(kind, 0), kind.name, {
    url,
    apiKey: options.apiKey,
    signal: AbortSignal.timeout(options.requestTimeoutS * 1000),
  });
  if (result.error !== undefined) throw new Error(`single-stream probe failed: ${result.error}`);
  return streamTokensPerS(result);
}

export async function runScenario(options: RunOptions): Promise<RunReport> {
  const url = chatUrl(options.target);
  const singleStreamTokensPerS = options.probe ? await probeSingleStream(url, options) : undefined;
  const stages = scaleStages(options.scenario.stages, options.durationScale, options.rateScale);
  const hardLimitMs = (totalDurationS(stages) + options.drainTimeoutS) * 1000;
  const stop = AbortSignal.timeout(hardLimitMs);
  // A ramp stops scheduling at its first broken step; requests in flight may still finish.
  const capacityReached = new AbortController();
  let stoppedEarly: string | undefined;
  const tracker = new StageTracker(stages);
  const { thresholds } = options.scenario;
  const kinds = options.kinds ?? REQUEST_KINDS;
  const random = seededRandom(options.seed);
  const results: RequestResult[] = [];
  const poller = new WorkerMetricsPoller(options.workerMetrics, options.workerMetricsIntervalMs);
  poller.start();
  const startedAt = new Date();
  const startMs = performance.now();
  const loop = await runOpenLoop({
    stages,
    maxInFlight: options.maxInFlight ?? options.scenario.maxInFlight,
    signal: AbortSignal.any([stop, capacityReached.signal]),
    fire: async (seq) => {
      const kind = pickKind(kinds, random());
      const signal = AbortSignal.any([stop, AbortSignal.timeout(options.requestTimeoutS * 1000)]);
      const result = await sendRequest(buildRequestBody(kind, seq), kind.name, { url, apiKey: options.apiKey, signal });
      results.push(result);
      const stage = tracker.record(seq, result);
      if (thresholds.abortOnFail !== true || stoppedEarly !== undefined) return;
      const breach = tracker.breach(stage, thresholds);
      if (breach === undefined) return;
      stoppedEarly = `stage ${stage + 1} (${stages[stage]?.ratePerS ?? 0} req/s): ${breach}`;
      capacityReached.abort();
    },
  });
  const wallMs = performance.now() - startMs;
  const workers = await poller.stop();
  return buildReport({
    scenario: options.scenario.name,
    target: url,
    startedAt,
    wallMs,
    results,
    loop,
    workers,
    singleStreamTokensPerS,
    stages: tracker.summaries(thresholds),
    stoppedEarly,
    thresholds,
    extra: options.extra,
  });
}
