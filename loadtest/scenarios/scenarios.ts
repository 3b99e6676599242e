// Arrival profiles and the promises each scenario checks. Shared by the k6 scripts and the Bun
// runner; plain data only, because k6 executes this file as well. Rates and limits are estimates
// for 2 × A40 (see vllm-wire/FACTS.md §8) — recalibrate on the real box.

import type { PoolName } from "./request-mix.ts";

export type ScenarioName = "smoke" | "baseline" | "burst" | "ramp" | "soak" | "failover";

/** A constant arrival rate held for a while; a rate of 0 is an idle gap. */
export interface Stage {
  durationS: number;
  ratePerS: number;
}

export interface Thresholds {
  /** Failed requests / all requests, 0..1. */
  maxErrorRate: number;
  /** p95 time to first token (streams) or to the whole answer (non-streams), per pool. */
  ttftP95Ms: Record<PoolName, number>;
  /** Ramp only: stop the run once a threshold breaks, which marks the capacity limit. */
  abortOnFail?: boolean;
}

/** Something the operator does by hand during a run (failover); scripts print this schedule. */
export interface OperatorAction {
  atS: number;
  command: string;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  stages: Stage[];
  /** Open-loop bound: beyond this many requests in flight new arrivals are dropped and counted. */
  maxInFlight: number;
  thresholds: Thresholds;
  operatorActions: OperatorAction[];
}

const PROMISE: Thresholds = { maxErrorRate: 0.01, ttftP95Ms: { heavy: 2000, light: 1000 } };

function repeat(stages: Stage[], times: number): Stage[] {
  const out: Stage[] = [];
  for (let i = 0; i < times; i++) out.push(...stages);
  return out;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
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
    thresholds: { maxErrorRate: 0, ttftP95Ms: { heavy: 10_000, light: 6000 } },
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

export function totalDurationS(stages: readonly Stage[]): number {
  return stages.reduce((sum, stage) => sum + stage.durationS, 0);
}
