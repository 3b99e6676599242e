import { percentile } from "../metrics/percentiles.ts";
import type { Pool, Worker } from "../pool/pools.ts";
import type { SelectionContext } from "../routing/selection-policy.ts";

/** Recent answers per pool and size class: enough for a stable p95, short enough to follow load. */
const WINDOW_SAMPLES = 200;

/**
 * Recent non-stream answer latencies per pool and `max_tokens` bucket (powers of two: a 16-token intent
 * and a 1,000-token answer are not "similar requests"), for hedging's "slower than usual".
 */
export class LatencyWindow {
  readonly #samples = new Map<string, number[]>();

  observe(pool: string, maxTokens: number | undefined, latencyMs: number): void {
    const key = bucketKey(pool, maxTokens);
    let samples = this.#samples.get(key);
    if (!samples) this.#samples.set(key, (samples = []));
    samples.push(latencyMs);
    if (samples.length > WINDOW_SAMPLES) samples.shift();
  }

  /** The `quantile` (0..1) of the bucket's recent latencies; undefined below `minSamples` answers. */
  quantileMs(pool: string, maxTokens: number | undefined, quantile: number, minSamples: number): number | undefined {
    const samples = this.#samples.get(bucketKey(pool, maxTokens));
    if (!samples || samples.length < minSamples) return undefined;
    return percentile([...samples].sort((a, b) => a - b), quantile * 100);
  }
}

function bucketKey(pool: string, maxTokens: number | undefined): string {
  return `${pool} ${maxTokens === undefined ? "any" : 2 ** Math.ceil(Math.log2(Math.max(1, maxTokens)))}`;
}

/** When a pool's non-stream request is hedged, learnt from its answers; and who takes the hedge. */
export class HedgeTiming {
  readonly #window = new LatencyWindow();

  /** ms after the first attempt started when a hedge goes; undefined: never (off, a stream, too few answers). */
  afterMs(pool: Pool, stream: boolean, maxTokens: number | undefined): number | undefined {
    const { enabled, afterQuantile, minSamples } = pool.config.hedge;
    if (!enabled || stream) return undefined;
    return this.#window.quantileMs(pool.name, maxTokens, afterQuantile, minSamples);
  }

  /** A non-stream answer of a hedging pool, `latencyMs` after its attempt started. */
  answered(pool: Pool, stream: boolean, maxTokens: number | undefined, latencyMs: number): void {
    if (pool.config.hedge.enabled && !stream) this.#window.observe(pool.name, maxTokens, latencyMs);
  }
}

/** The hedge's worker: another serving one of the pool, its slot taken and kept from later retries. */
export function pickSecond(pool: Pool, excluded: Set<number>, selection?: SelectionContext): Worker | undefined {
  const second = pool.select(excluded, selection);
  if (!second) return undefined;
  excluded.add(second.slot);
  pool.state.acquire(second.slot);
  return second;
}
