import type { Worker } from "../pool/pools.ts";

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * The proxy core: sends `request` (addressed relative to the gateway, e.g. `/v1/chat/completions`, with
 * headers already prepared for the worker) to `worker` and returns the worker's response untouched.
 * The signal carries the client's abort and the attempt's deadlines, so a cancelled request closes the
 * upstream connection at once and the worker frees its batch slot.
 */
export async function forward(request: Request, worker: Worker, signal: AbortSignal, fetchImpl: FetchLike = fetch): Promise<Response> {
  const url = new URL(request.url);
  // A buffered body keeps Content-Length framing upstream; a stream body would go out chunked.
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  return fetchImpl(worker.url + url.pathname + url.search, {
    method: request.method,
    headers: request.headers,
    body,
    signal,
    redirect: "manual",
  });
}
