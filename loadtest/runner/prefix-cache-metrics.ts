// Reads vLLM's prefix-cache counters from workers' /metrics, before and after a run, so a report can
// say what share of the prompt tokens the workers found cached.

import { parsePrefixCacheCounters, type PrefixCacheCounters, sumCounters } from "../scenarios/prefix-cache-counters.js";

export { hitRate } from "../scenarios/prefix-cache-counters.js";

/** Counters summed over workers; a worker that does not answer counts as zero. */
export async function readPrefixCacheCounters(workerUrls: readonly string[]): Promise<PrefixCacheCounters> {
  const readings = await Promise.all(
    workerUrls.map(async (url) => {
      try {
        const response = await fetch(`${url.replace(/\/$/, "")}/metrics`, { signal: AbortSignal.timeout(2_000) });
        return parsePrefixCacheCounters(await response.text());
      } catch {
        return { queriedTokens: 0, hitTokens: 0 };
      }
    }),
  );
  return sumCounters(readings);
}
