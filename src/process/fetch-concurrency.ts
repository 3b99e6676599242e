/**
 * Bun's fetch queues requests beyond 256 per process, silently, and reads its limit only at process
 * start (setting process.env later has no effect: measured). A gateway holding thousands of open
 * streams must raise it, so entry points re-exec themselves once with the variable set.
 */
export const FETCH_CONCURRENCY_ENV = "BUN_CONFIG_MAX_HTTP_REQUESTS";
const DEFAULT_FETCH_CONCURRENCY = "65535";

/** Returns true when this process is the one that should run; otherwise it becomes a thin parent. */
export async function ensureFetchConcurrency(): Promise<boolean> {
  if (process.env[FETCH_CONCURRENCY_ENV]) return true;
  const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, [FETCH_CONCURRENCY_ENV]: DEFAULT_FETCH_CONCURRENCY },
    stdio: ["inherit", "inherit", "inherit"],
  });
  // The parent may be PID 1 in a container: it must pass stop signals on so the child can drain.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
  process.exit(await child.exited);
}
