// @ts-check
// vLLM's prefix-cache counters from a worker's Prometheus text, and the hit rate between two
// readings. Pure functions: the k6 session script and the Bun runner share them.

/**
 * @typedef {object} PrefixCacheCounters
 * @property {number} queriedTokens
 * @property {number} hitTokens
 */

const QUERIES = "vllm:prefix_cache_queries_total";
const HITS = "vllm:prefix_cache_hits_total";

/**
 * Sums each counter over every sample (one per engine).
 * @param {string} text
 * @returns {PrefixCacheCounters}
 */
export function parsePrefixCacheCounters(text) {
  const counters = { queriedTokens: 0, hitTokens: 0 };
  for (const line of text.split("\n")) {
    const name = line.startsWith(QUERIES) ? "queriedTokens" : line.startsWith(HITS) ? "hitTokens" : undefined;
    if (name === undefined) continue;
    const afterLabels = line.includes("}") ? line.lastIndexOf("}") + 1 : line.indexOf(" ");
    const value = Number(line.slice(afterLabels).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) counters[name] += value;
  }
  return counters;
}

/**
 * @param {PrefixCacheCounters[]} readings
 * @returns {PrefixCacheCounters}
 */
export function sumCounters(readings) {
  return readings.reduce(
    (sum, next) => ({
      queriedTokens: sum.queriedTokens + next.queriedTokens,
      hitTokens: sum.hitTokens + next.hitTokens,
    }),
    {
      queriedTokens: 0,
      hitTokens: 0,
    },
  );
}

/**
 * Cached prompt tokens / looked-up prompt tokens between two readings, 0..1; NaN when nothing was
 * looked up (caching off, or no worker URLs given).
 * @param {PrefixCacheCounters} before
 * @param {PrefixCacheCounters} after
 * @returns {number}
 */
export function hitRate(before, after) {
  const queried = after.queriedTokens - before.queriedTokens;
  return queried > 0 ? (after.hitTokens - before.hitTokens) / queried : Number.NaN;
}
