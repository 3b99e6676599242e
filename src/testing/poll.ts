/**
 * Polling helpers for tests that wait on asynchronous effects (records flushed, gauges settled, workers
 * drained) instead of sleeping a fixed time.
 */

/**
 * Polls `check` until it returns true; resolves with the elapsed ms. Throws once `timeoutMs` passes so a
 * missed condition fails loudly with `what` in the message. `intervalMs` is the pause between checks:
 * keep it short for in-process state, longer when each check costs a request.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition", intervalMs = 1): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
  return performance.now() - start;
}

/**
 * Re-reads a value until `done(value)` or `timeoutMs` passes, and returns the last value read either way.
 * It never throws on timeout: the caller asserts on the value, so a miss shows the actual value in the diff.
 */
export async function pollValue<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs: number, intervalMs = 50): Promise<T> {
  const until = performance.now() + timeoutMs;
  let value = await read();
  while (!done(value) && performance.now() < until) {
    await Bun.sleep(intervalMs);
    value = await read();
  }
  return value;
}
