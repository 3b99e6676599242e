/** Hop-by-hop headers (RFC 9110 §7.6.1) plus what a proxy must never copy across. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Client headers that must not reach a worker: credentials, and what the new request recomputes. */
const NOT_UPSTREAM = new Set(["authorization", "host", "content-length", "accept-encoding", "cookie", "x-api-key"]);

/**
 * Bun's fetch decompresses bodies and re-frames them, so the worker's encoding and length no longer
 * describe the bytes the client receives.
 */
const NOT_DOWNSTREAM = new Set(["content-encoding", "content-length"]);

export function upstreamHeaders(client: Headers, extra: Record<string, string>): Headers {
  return copyHeaders(client, NOT_UPSTREAM, extra);
}

export function downstreamHeaders(upstream: Headers, extra: Record<string, string>): Headers {
  return copyHeaders(upstream, NOT_DOWNSTREAM, extra);
}

/**
 * Copies end-to-end headers: never hop-by-hop ones, nor those the `Connection` header lists. Cloning
 * natively and deleting the few unwanted names is cheaper than visiting every header in JS.
 */
function copyHeaders(source: Headers, drop: ReadonlySet<string>, extra: Record<string, string>): Headers {
  const out = new Headers(source);
  if (source.has("connection")) for (const name of listedInConnection(source)) out.delete(name);
  for (const name of HOP_BY_HOP) out.delete(name);
  for (const name of drop) out.delete(name);
  for (const name in extra) out.set(name, extra[name] as string);
  return out;
}

function listedInConnection(headers: Headers): Set<string> {
  const value = headers.get("connection");
  if (!value) return new Set();
  return new Set(value.split(",").map((token) => token.trim().toLowerCase()));
}
