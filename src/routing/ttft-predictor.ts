import type { Pool } from "../pool/pools.ts";
import { eligible } from "../pool/ring.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/** Weight of the newest observation in every moving average: about the last 10 requests count. */
const ALPHA = 0.1;

/**
 * Predicts a request's time to first token on a pool from what the gateway already sees, for tier
 * routing (`prefer` + `ttftBudgetMs`). For worker w of pool P and a prompt of p tokens:
 *
 *   ttft(w) = base_P(p) + k_w · s_P / c_w          base_P(p) = a_P + b_P · p
 *
 * - base_P(p): the unqueued TTFT (overhead + prefill), an exponentially weighted least-squares line
 *   of observed TTFT over prompt tokens, fitted on the pool's recent streamed requests that did not
 *   queue (α = 0.1: about the last ten count);
 * - c_w: the worker's batch capacity, `num_requests_running` at its last scrape that showed a queue
 *   (unknown until the worker has queued once);
 * - k_w: the new request's queue position: 0 while a batch slot is free (gateway in-flight on w < c_w
 *   and no scraped queue), else 1 + the requests waiting ahead, max(scraped `num_requests_waiting`,
 *   in-flight − c_w); the in-flight part reacts to a burst at once, the scraped part sees other
 *   gateways' traffic;
 * - s_P: a request's time in the batch, base_P(p) + EWMA of (latency − TTFT) (decode); with
 *   continuous batching one of the c_w running requests finishes about every s_P / c_w.
 *
 * A pool's prediction is the mean over its serving workers under round-robin (any of them may get the
 * request), the minimum under least_loaded or session affinity (they pick a lightly loaded one). A pool
 * with no serving worker predicts +∞; a pool with no observation yet predicts 0, so it is tried first.
 * Prompt size p is estimated from the request's characters (4 per token), as no tokenizer runs here.
 */
export class TtftPredictor {
  readonly #stats = new Map<string, PoolStats>();

  /** Learns from one finished stream: its TTFT and decode time, and whether it queued. */
  observe(record: RequestRecord): void {
    if (record.outcome !== "ok" || !record.pool || record.ttftMs === undefined || !record.stream) return;
    const stats = this.#statsOf(record.pool);
    // Time in the batch after the first token; queueing before it must not inflate the service time.
    stats.decodeMs.add(record.latencyMs - record.ttftMs);
    if (record.queueAhead !== 0 || record.promptTokens === undefined) return;
    stats.fit.add(record.promptTokens, record.ttftMs);
  }

  /**
   * A new request's place in the worker's queue: 0 when a batch slot is free, else the requests
   * waiting ahead of it plus one (it waits for a running one to finish too).
   */
  queueAhead(pool: Pool, slot: number): number {
    const state = pool.state;
    const capacity = state.capacity(slot);
    const overCapacity = capacity > 0 ? state.inFlight(slot) - capacity : -1;
    const scraped = state.waiting(slot);
    if (scraped === 0 && overCapacity < 0) return 0;
    return Math.max(scraped, overCapacity) + 1;
  }

  /** Milliseconds; +∞ when no worker of the pool can serve. */
  predict(pool: Pool, promptTokens: number): number {
    const stats = this.#stats.get(pool.name);
    const baseMs = stats ? stats.fit.at(promptTokens) : 0;
    const serviceMs = stats ? baseMs + (stats.decodeMs.value ?? 0) : 0;
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
    if (!stats) this.#stats.set(pool, (stats = { decodeMs: new Ewma(), fit: new WeightedLineFit() }));
    return stats;
  }
}

interface PoolStats {
  decodeMs: Ewma;
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
