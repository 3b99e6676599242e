import type { Pool, Worker } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";
import { scrapeLoad } from "./vllm-metrics.ts";

/** How a liveness request ended: any HTTP answer, or none within its timeout (or a failed connection). */
export type LivenessAnswer =
  | { kind: "answered"; status: number }
  | { kind: "timeout" }
  | { kind: "failed"; detail: string };

/**
 * One request to a worker within `timeoutMs`; never throws. The body is read to the end, because for a
 * generation the answer is the proof of life; a process that froze after its headers is a timeout too.
 */
async function ask(fetchImpl: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<LivenessAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetchImpl(url, { ...init, signal });
    await response.arrayBuffer();
    return { kind: "answered", status: response.status };
  } catch (error) {
    if (signal.aborted) return { kind: "timeout" };
    return { kind: "failed", detail: error instanceof Error ? error.message : String(error) };
  }
}

/** What a worker with `workerApiKey` needs on every request, probes included. */
export function workerAuthHeaders(pool: Pool): Record<string, string> {
  return pool.config.workerApiKey ? { authorization: `Bearer ${pool.config.workerApiKey}` } : {};
}

/** GET /health: whether the worker's HTTP loop answers at all (any status counts as an answer). */
export function askHealth(
  fetchImpl: FetchLike,
  pool: Pool,
  worker: Worker,
  timeoutMs: number,
): Promise<LivenessAnswer> {
  return ask(fetchImpl, `${worker.url}/health`, { method: "GET", headers: workerAuthHeaders(pool) }, timeoutMs);
}

/**
 * The deep probe: a one-token generation, the cheapest request that needs the engine to schedule, prefill
 * and decode. `/health` only says the HTTP server runs; a hung engine still answers it.
 */
export function askOneToken(
  fetchImpl: FetchLike,
  pool: Pool,
  worker: Worker,
  timeoutMs: number,
): Promise<LivenessAnswer> {
  const body = {
    model: pool.upstreamModel,
    messages: [{ role: "user", content: "ping" }],
    max_tokens: 1,
    stream: false,
  };
  const headers = {
    ...workerAuthHeaders(pool),
    "content-type": "application/json",
    // vLLM refuses a request id already running; every probe needs its own.
    "x-request-id": `ringgate-deep-probe-${crypto.randomUUID()}`,
  };
  return ask(
    fetchImpl,
    `${worker.url}/v1/chat/completions`,
    { method: "POST", headers, body: JSON.stringify(body) },
    timeoutMs,
  );
}

/**
 * Requests the worker's engine holds in its waiting queue, from /metrics; undefined when unknown. A deep
 * probe behind a queue would time out on a merely busy engine, so it is sent only when nothing waits.
 */
export async function waitingRequests(
  fetchImpl: FetchLike,
  pool: Pool,
  worker: Worker,
  timeoutMs: number,
): Promise<number | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  const headers = workerAuthHeaders(pool);
  const get = (path: string): Promise<Response> => fetchImpl(worker.url + path, { method: "GET", headers, signal });
  return (await scrapeLoad(get, () => 0))?.waiting;
}
