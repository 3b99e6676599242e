import type { Pool } from "../pool/pools.ts";
import { eligible } from "../pool/ring.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/** Weight of the newest observation in every moving average: about the last 10 requests count. */
const ALPHA = 0.1;

/**
 * Predicts a request's time to first token on a pool from what the gateway already sees, for tier
 * routing (`prefer` + `ttftBudgetMs`). For worker w of pool P and a prompt of p tokens:
 *
 *   ttft(w) = a_P + b_P · p  +  q_w · s_P / c_w
 *
 * - a_P + b_P · p: the unqueued TTFT (overhead + prefill), an exponentially weighted least-squares fit
 *   of observed TTFT on prompt tokens over the pool's recent streamed requests that met no queue;
 * - q_w: requests ahead of this one in the worker's own queue = max(scraped `num_requests_waiting`,
 *   gateway in-flight on w − c_w); the in-flight part reacts to a burst at once, the scraped part
 *   shows other gateways' traffic;
 * - c_w: the worker's batch capacity, read as `num_requests_running` at its last scrape that showed a
 *   queue (while unknown, q_w is the scraped queue alone);
 * - s_P: EWMA of the pool's request latency (dispatch to last token); with continuous batching one of
 *   the c_w running requests finishes every s_P / c_w on average, so each one ahead costs that much.
 *
 * A pool's prediction is the mean over its serving workers under round-robin (any of them may get the
 * request), the minimum under least_loaded or session affinity (those pick the least loaded / a near
 * one). A pool with no serving worker predicts +∞.
 */
export class TtftPredictor {
  readonly #stats = new Map<string, PoolStats>();

  /** Learns from one finished request: its TTFT (streams) and latency, and whether it met a queue. */
  observe(record: RequestRecord): void {
    if (record.outcome !== "ok" || !record.pool) return;
    const stats = this.#statsOf(record.pool);
    stats.latencyMs.add(record.latencyMs);
    if (record.ttftMs === undefined || !record.stream || record.queueAhead !== 0 || record.promptTokens === undefined) return;
    stats.fit.add(record.promptTokens, record.ttftMs);
  }

  /** Requests ahead of a new one on this slot's worker. */
  queueAhead(pool: Pool, slot: number): number {
    const state = pool.state;
    const capacity = state.capacity(slot);
    const overCapacity = capacity > 0 ? state.inFlight(slot) - capacity : 0;
    return Math.max(state.waiting(slot), overCapacity, 0);
  }

  /** Milliseconds; +∞ when no worker of the pool can serve. */
  predict(pool: Pool, promptTokens: number): number {
    const stats = this.#stats.get(pool.name);
    const baseMs = stats ? stats.fit.at(promptTokens) : 0;
    const serviceMs = stats?.latencyMs.value ?? 0;
    const useMin = pool.config.balance === "least_loaded" || pool.config.affinity === "session";
    let total = 0;
    let count = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let slot = 0; slot < pool.state.size; slot++) {
      if (!eligible(pool.state, slot, undefined)) continue;
      const capacity = Math.max(1, pool.state.capacity(slot));
      const queueMs = this.queueAhead(pool, slot) * (serviceMs / capacity);
      total += queueMs;
      count++;
      min = Math.min(min, queueMs);
    }
    if (count === 0) return Number.POSITIVE_INFINITY;
    return baseMs + (useMin ? min : total / count);
  }

  #statsOf(pool: string): PoolStats {
    let stats = this.#stats.get(pool);
    if (!stats) this.#stats.set(pool, (stats = { latencyMs: new Ewma(), fit: new WeightedLineFit() }));
    return stats;
  }
}

interface PoolStats {
  latencyMs: Ewma;
  fit: WeightedLineFit;
}

class Ewma {
  value: number | undefined;

  add(sample: number): void {
    this.value = this.value === undefined ? sample : this.value + ALPHA * (sample - this.value);
  }
}

/** y ≈ a + b·x by least squares with exponentially decaying weights (running means of x, y, x², xy). */
class WeightedLineFit {
  #n = 0;
  #x = 0;
  #y = 0;
  #xx = 0;
  #xy = 0;

  add(x: number, y: number): void {
    const weight = this.#n === 0 ? 1 : ALPHA;
    this.#n++;
    this.#x += weight * (x - this.#x);
    this.#y += weight * (y - this.#y);
    this.#xx += weight * (x * x - this.#xx);
    this.#xy += weight * (x * y - this.#xy);
  }

  at(x: number): number {
    if (this.#n === 0) return 0;
    const variance = this.#xx - this.#x * this.#x;
    // Prompts of (nearly) one size say nothing about the slope: the mean is the best guess.
    const slope = variance > 1e-6 * Math.max(1, this.#xx) ? Math.max(0, (this.#xy - this.#x * this.#y) / variance) : 0;
    return Math.max(0, this.#y + slope * (x - this.#x));
  }
}
