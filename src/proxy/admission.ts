import type { Pool } from "../pool/pools.ts";

/**
 * Per-pool in-flight cap. The cap is high by default: vLLM's continuous batcher, not the gateway, should
 * absorb bursts. Past it, a request waits a short bounded time for a slot, woken as soon as one frees
 * (no polling), and is refused after that.
 */
export class Admission {
  readonly #waiters = new Map<string, Set<() => void>>();

  async enter(pool: Pool, signal: AbortSignal): Promise<boolean> {
    const limit = pool.config.maxInFlight;
    if (pool.state.tryEnter(limit)) return true;
    const waitMs = pool.config.admissionWaitMs;
    if (waitMs === 0) return false;
    const endMs = performance.now() + waitMs;
    while (!signal.aborted) {
      const remaining = endMs - performance.now();
      if (remaining <= 0) return false;
      await this.#wake(pool.name, remaining, signal);
      if (pool.state.tryEnter(limit)) return true;
    }
    return false;
  }

  leave(pool: Pool): void {
    pool.state.leave();
    const waiters = this.#waiters.get(pool.name);
    const first = waiters?.values().next().value;
    if (first) first();
  }

  #wake(poolName: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    let waiters = this.#waiters.get(poolName);
    if (!waiters) this.#waiters.set(poolName, (waiters = new Set()));
    const set = waiters;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }
}
