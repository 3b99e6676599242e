// @ts-check
// Scenario data → k6 options: an open-loop ramping-arrival-rate executor and the promises as
// thresholds tagged by pool, so a breach names the pool that broke it. Plain JavaScript typed
// through JSDoc (checked against @types/k6 by `bun run typecheck`).

/** @import { Options, Stage as K6Stage, Threshold } from "k6/options" */
/** @import { Scenario, Stage } from "../scenarios/scenarios.js" */

/**
 * @param {readonly Stage[]} stages
 * @returns {K6Stage[]}
 */
function k6Stages(stages) {
  // A 0 s stage jumps to the new rate; the next one holds it. k6 would otherwise ramp linearly.
  return stages.flatMap((stage) => [
    { target: stage.ratePerS, duration: "0s" },
    { target: stage.ratePerS, duration: `${stage.durationS}s` },
  ]);
}

/**
 * @param {string} expression
 * @param {Scenario} scenario
 * @returns {Threshold}
 */
function threshold(expression, scenario) {
  return scenario.thresholds.abortOnFail === true
    ? { threshold: expression, abortOnFail: true, delayAbortEval: "20s" }
    : expression;
}

/**
 * k6's end-of-test summary shows a tagged sub-metric only when a threshold names it, so each step of
 * a multi-step profile gets thresholds that always pass: the summary then lists p95 TTFT, error
 * rate and tokens per step — the capacity curve of a ramp, each spike of a burst.
 * @param {Scenario} scenario
 * @returns {Record<string, Threshold[]>}
 */
function perStepReport(scenario) {
  const busySteps = scenario.stages.flatMap((stage, i) => (stage.ratePerS > 0 ? [i + 1] : []));
  if (busySteps.length < 2) return {};
  /** @type {Record<string, Threshold[]>} */
  const out = {};
  for (const step of busySteps) {
    out[`ttft_ms{step:${step}}`] = ["p(95)>=0"];
    out[`errors{step:${step}}`] = ["rate>=0"];
    out[`completion_tokens{step:${step}}`] = ["count>=0"];
  }
  return out;
}

/**
 * @param {Scenario} scenario
 * @returns {Options}
 */
export function k6Options(scenario) {
  const peakRatePerS = Math.max(1, ...scenario.stages.map((s) => s.ratePerS));
  const { maxErrorRate, ttftP95Ms } = scenario.thresholds;
  return {
    scenarios: {
      [scenario.name]: {
        executor: "ramping-arrival-rate",
        startRate: 0,
        timeUnit: "1s",
        // VUs are k6's in-flight bound: each request holds one VU until its answer is complete.
        preAllocatedVUs: Math.min(scenario.maxInFlight, Math.ceil(peakRatePerS * 2)),
        maxVUs: scenario.maxInFlight,
        stages: k6Stages(scenario.stages),
        gracefulStop: "60s",
      },
    },
    thresholds: {
      errors: [threshold(`rate<=${maxErrorRate}`, scenario)],
      "errors{pool:heavy}": [threshold(`rate<=${maxErrorRate}`, scenario)],
      "errors{pool:light}": [threshold(`rate<=${maxErrorRate}`, scenario)],
      "ttft_ms{pool:heavy}": [threshold(`p(95)<=${ttftP95Ms.heavy}`, scenario)],
      "ttft_ms{pool:light}": [threshold(`p(95)<=${ttftP95Ms.light}`, scenario)],
      // Dropped iterations are arrivals k6 had no free VU for: requests the game sent unanswered.
      dropped_iterations: [threshold("count<=0", scenario)],
      ...perStepReport(scenario),
    },
    summaryTrendStats: ["avg", "med", "p(90)", "p(95)", "p(99)", "max"],
  };
}
