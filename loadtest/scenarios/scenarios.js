// @ts-check
// Arrival profiles and the promises each scenario checks. Shared by the k6 scripts and the Bun
// runner; plain data only, because k6 executes this file as well. Plain JavaScript typed through
// JSDoc (checked by `bun run typecheck`), so any k6 can load it without TypeScript support.
// Rates and limits are estimates for 2 × A40 (see vllm-wire/FACTS.md §8) — recalibrate on the real box.

/** @import { PoolName } from "./request-mix.js" */

/** @typedef {"smoke" | "baseline" | "burst" | "ramp" | "soak" | "failover"} ScenarioName */

/**
 * A constant arrival rate held for a while; a rate of 0 is an idle gap.
 * @typedef {object} Stage
 * @property {number} durationS
 * @property {number} ratePerS
 */

/**
 * @typedef {object} Thresholds
 * @property {number} maxErrorRate Failed requests / all requests, 0..1.
 * @property {Record<PoolName, number>} ttftP95Ms p95 time to first token (streams) or to the whole
 *   answer (non-streams), per pool.
 * @property {boolean} [abortOnFail] Ramp only: stop the run once a threshold breaks, which marks
 *   the capacity limit.
 */

/**
 * Something the operator does by hand during a run (failover); scripts print this schedule.
 * @typedef {object} OperatorAction
 * @property {number} atS
 * @property {string} command
 */

/**
 * @typedef {object} Scenario
 * @property {ScenarioName} name
 * @property {string} description
 * @property {Stage[]} stages
 * @property {number} maxInFlight Open-loop bound: beyond this many requests in flight new arrivals
 *   are dropped and counted.
 * @property {Thresholds} thresholds
 * @property {OperatorAction[]} operatorActions
 */

/** @type {Thresholds} */
const PROMISE = { maxErrorRate: 0.01, ttftP95Ms: { heavy: 2000, light: 1000 } };

/**
 * @param {Stage[]} stages
 * @param {number} times
 * @returns {Stage[]}
 */
function repeat(stages, times) {
  /** @type {Stage[]} */
  const out = [];
  for (let i = 0; i < times; i++) out.push(...stages);
  return out;
}

/** @type {Record<ScenarioName, Scenario>} */
export const SCENARIOS = {
  smoke: {
    name: "smoke",
    description: "1 req/s for 30 s: is everything wired up?",
    stages: [{ durationS: 30, ratePerS: 1 }],
    maxInFlight: 50,
    thresholds: { maxErrorRate: 0, ttftP95Ms: PROMISE.ttftP95Ms },
    operatorActions: [],
  },
  baseline: {
    name: "baseline",
    description: "constant 8 req/s of the game mix for 5 min",
    stages: [{ durationS: 300, ratePerS: 8 }],
    maxInFlight: 500,
    thresholds: PROMISE,
    operatorActions: [],
  },
  burst: {
    name: "burst",
    description: "idle 4 s, 300 requests within 1 s, 15 s to drain; three times",
    stages: repeat(
      [
        { durationS: 4, ratePerS: 0 },
        { durationS: 1, ratePerS: 300 },
        { durationS: 15, ratePerS: 0 },
      ],
      3,
    ),
    maxInFlight: 2000,
    // A burst queues by design; the promise is "no errors, bounded wait", not idle-time TTFT.
    thresholds: { maxErrorRate: 0, ttftP95Ms: { heavy: 10000, light: 6000 } },
    operatorActions: [],
  },
  ramp: {
    name: "ramp",
    description: "arrival rate stepped up every 30 s until a threshold breaks: the capacity curve",
    stages: [2, 4, 8, 12, 16, 24, 32, 48, 64].map((ratePerS) => ({ durationS: 30, ratePerS })),
    maxInFlight: 3000,
    thresholds: { ...PROMISE, abortOnFail: true },
    operatorActions: [],
  },
  soak: {
    name: "soak",
    description: "6 req/s for 30 min: leaks, drift, Redis stream growth",
    stages: [{ durationS: 1800, ratePerS: 6 }],
    maxInFlight: 500,
    thresholds: PROMISE,
    operatorActions: [],
  },
  failover: {
    name: "failover",
    description: "6 req/s for 6 min while the operator stops and restarts workers",
    stages: [{ durationS: 360, ratePerS: 6 }],
    maxInFlight: 500,
    // Streams cut mid-answer by a dying worker are honest errors; retries must absorb the rest.
    thresholds: { maxErrorRate: 0.01, ttftP95Ms: { heavy: 4000, light: 2000 } },
    operatorActions: [
      { atS: 60, command: "docker compose stop heavy-1" },
      { atS: 150, command: "docker compose start heavy-1" },
      { atS: 210, command: "docker compose stop light-0" },
      { atS: 300, command: "docker compose start light-0" },
    ],
  },
};

/**
 * @param {readonly Stage[]} stages
 * @returns {number}
 */
export function totalDurationS(stages) {
  return stages.reduce((sum, stage) => sum + stage.durationS, 0);
}
