/**
 * Bun's fetch queues requests beyond 256 per process, silently, and reads its limit only at process
 * start (setting process.env later has no effect: measured). A gateway holding thousands of open
 * streams must start with it raised: the package scripts and the image set it, so the gateway stays
 * one process (no re-exec parent that could outlive it or swallow signals).
 */
export const FETCH_CONCURRENCY_ENV = "BUN_CONFIG_MAX_HTTP_REQUESTS";
export const RECOMMENDED_FETCH_CONCURRENCY = "65535";

/** The one warning for a bare `bun app/main.ts`; undefined when the limit was raised at start. */
export function fetchConcurrencyWarning(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env[FETCH_CONCURRENCY_ENV]) return undefined;
  return (
    `${FETCH_CONCURRENCY_ENV} is unset: Bun's fetch queues upstream requests beyond 256 in flight. ` +
    `Start with \`bun run start\` or set ${FETCH_CONCURRENCY_ENV}=${RECOMMENDED_FETCH_CONCURRENCY}`
  );
}
