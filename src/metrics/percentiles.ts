/**
 * Nearest-rank percentile of ascending `sorted` values: the smallest value with at least p% of the
 * values at or below it. Always an observed value, so "p99 = 812 ms" means a request took 812 ms.
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1];
}

export interface Quantiles {
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
}

export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}
