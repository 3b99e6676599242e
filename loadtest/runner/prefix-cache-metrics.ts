// Reads vLLM's prefix-cache counters from workers' /metrics, before and after a run, so a report can
// say what share of the prompt tokens the workers found cached.

export interface PrefixCacheCounters {
  queriedTokens: number;
  hitTokens: number;
}

const QUERIES = "vllm:prefix_cache_queries_total";
const HITS = "vllm:prefix_cache_hits_total";

/** Sums each counter over every sample (one per engine) in a Prometheus text exposition. */
export function parsePrefixCacheCounters(text: string): PrefixCacheCounters {
  const counters = { queriedTokens: 0, hitTokens: 0 };
  for (const line of text.split("\n")) {
    const name = line.startsWith(QUERIES) ? "queriedTokens" : line.startsWith(HITS) ? "hitTokens" : undefined;
    if (!name) continue;
    const value = Number(line.slice(line.lastIndexOf("}") + 1 || line.indexOf(" ")).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) counters[name] += value;
  }
  return counters;
}

/** Counters summed over workers; a worker that does not answer counts as zero. */
export async function readPrefixCacheCounters(workerUrls: readonly string[]): Promise<PrefixCacheCounters> {
  const all = await Promise.all(
    workerUrls.map(async (url) => {
      try {
        const response = await fetch(`${url.replace(/\/$/, "")}/metrics`, { signal: AbortSignal.timeout(2_000) });
        return parsePrefixCacheCounters(await response.text());
      } catch {
        return { queriedTokens: 0, hitTokens: 0 };
      }
    }),
  );
  return all.reduce((sum, next) => ({ queriedTokens: sum.queriedTokens + next.queriedTokens, hitTokens: sum.hitTokens + next.hitTokens }));
}

/** Hit rate between two readings, 0..1; NaN when nothing was queried (e.g. caching off, or no worker URLs). */
export function hitRate(before: PrefixCacheCounters, after: PrefixCacheCounters): number {
  const queried = after.queriedTokens - before.queriedTokens;
  return queried > 0 ? (after.hitTokens - before.hitTokens) / queried : Number.NaN;
}
