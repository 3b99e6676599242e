// Nearest-rank percentile, the definition k6 and most load tools print, so numbers compare; the one
// implementation is `bun run stats`'s, so the gateway's stats and the load tools agree by construction.

import { percentile as nearestRank } from "../../src/metrics/percentiles.ts";

/** p in 0..100 of unsorted values; NaN for an empty sample so a missing figure never reads as 0 ms. */
export function percentile(values: readonly number[], p: number): number {
  return nearestRank([...values].sort((a, b) => a - b), p) ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
