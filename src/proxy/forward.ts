import type { Worker } from "../pool/pools.ts";

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * The proxy core: sends `request` (addressed relative to the gateway, e.g. `/v1/chat/completions`, with
 * headers already prepared for the worker) to `worker` and returns the worker's response untouched.
 * The signal carries the client's abort and the attempt's deadlines, so a cancelled request closes the
 * upstream connection at once and the worker frees its batch slot.
 */
export function forward(request: Request, worker: Worker, signal: AbortSignal, fetchImpl: FetchLike = fetch): Promise<Response> {
  const url = request.url;
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  // The body goes on as the request's own stream: Bun keeps its Content-Length and copies nothing.
  return fetchImpl(worker.url + path, { method: request.method, headers: request.headers, body: request.body, signal, redirect: "manual" });
}
