import type { Pool } from "../pool/pools.ts";

/**
 * Per-pool in-flight cap. The cap is high by default: vLLM's continuous batcher, not the gateway, should
 * absorb bursts. Past it, a request waits a short bounded time for a place, woken as soon as one frees
 * on any serving thread (the count lives in the pool's shared state; no polling), and is refused after that.
 */
export class Admission {
  async enter(pool: Pool, signal: AbortSignal): Promise<boolean> {
    const limit = pool.config.maxInFlight;
    if (pool.state.tryEnter(limit)) return true;
    const waitMs = pool.config.admissionWaitMs;
    if (waitMs === 0 || signal.aborted) return false;
    const endMs = performance.now() + waitMs;
    let onAbort = (): void => undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      while (!signal.aborted) {
        const remaining = endMs - performance.now();
        if (remaining <= 0) return false;
        await Promise.race([pool.state.waitForLeave(remaining), aborted]);
        if (pool.state.tryEnter(limit)) return true;
      }
      return false;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  leave(pool: Pool): void {
    pool.state.leave();
  }
}
