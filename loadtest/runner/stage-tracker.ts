// Results per arrival stage: the capacity curve of a ramp (each step's rate against what it got)
// and the early stop once a step breaks the promises.

import type { PoolName } from "../scenarios/request-mix.js";
import type { Stage, Thresholds } from "../scenarios/scenarios.js";
import { arrivals } from "./open-loop.ts";
import { percentile } from "./percentile.ts";
import type { RequestResult } from "./send-request.ts";

export interface StageSummary {
  index: number;
  ratePerS: number;
  requests: number;
  errors: number;
  ttftP95Ms: number;
  /** Completion tokens of the requests that arrived in this stage, over the stage's duration. */
  tokensPerS: number;
  /** The first promise this stage broke, if any. */
  breach?: string;
}

// Fewer answers than this say nothing reliable about a p95 or an error rate.
const MIN_SAMPLE = 20;

export class StageTracker {
  readonly #stages: readonly Stage[];
  readonly #stageBySeq: number[];
  readonly #results: RequestResult[][];

  constructor(stages: readonly Stage[]) {
    this.#stages = stages;
    this.#stageBySeq = arrivals(stages).map((a) => a.stage);
    this.#results = stages.map(() => []);
  }

  /** Files a result under its arrival's stage and returns that stage's index. */
  record(seq: number, result: RequestResult): number {
    const stage = this.#stageBySeq[seq] ?? 0;
    this.#results[stage]?.push(result);
    return stage;
  }

  breach(stage: number, thresholds: Thresholds): string | undefined {
    const results = this.#results[stage] ?? [];
    if (results.length < MIN_SAMPLE) return undefined;
    const errorRate = results.filter((r) => r.error !== undefined).length / results.length;
    if (errorRate > thresholds.maxErrorRate) return `error rate ${errorRate.toFixed(3)} > ${thresholds.maxErrorRate}`;
    for (const pool of ["heavy", "light"] as const satisfies readonly PoolName[]) {
      const ttfts = results.flatMap((r) => (r.pool === pool && r.error === undefined && r.ttftMs !== undefined ? [r.ttftMs] : []));
      if (ttfts.length < MIN_SAMPLE) continue;
      const p95 = percentile(ttfts, 95);
      if (p95 > thresholds.ttftP95Ms[pool]) return `p95 TTFT ${pool} ${p95.toFixed(0)} ms > ${thresholds.ttftP95Ms[pool]} ms`;
    }
    return undefined;
  }

  summaries(thresholds: Thresholds): StageSummary[] {
    return this.#stages.flatMap((stage, index) => {
      if (stage.ratePerS === 0) return [];
      const results = this.#results[index] ?? [];
      const good = results.filter((r) => r.error === undefined);
      const tokens = good.reduce((sum, r) => sum + r.completionTokens, 0);
      const summary: StageSummary = {
        index,
        ratePerS: stage.ratePerS,
        requests: results.length,
        errors: results.length - good.length,
        ttftP95Ms: percentile(good.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs])), 95),
        tokensPerS: stage.durationS > 0 ? tokens / stage.durationS : 0,
      };
      const breach = this.breach(index, thresholds);
      if (breach !== undefined) summary.breach = breach;
      return [summary];
    });
  }
}
