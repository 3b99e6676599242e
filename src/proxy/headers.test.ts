import { describe, expect, test } from "bun:test";
import { downstreamHeaders, upstreamHeaders } from "./headers.ts";

describe("header policy", () => {
  const client = new Headers({
    authorization: "Bearer client-secret",
    cookie: "session=1",
    connection: "keep-alive, x-hop",
    "x-hop": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "accept-encoding": "gzip",
    "content-length": "10",
    host: "gateway",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "x-stainless-os": "Linux",
  });

  test("a worker never sees the client's credentials or hop-by-hop headers", () => {
    const out = upstreamHeaders(client, { "x-request-id": "r-1", authorization: "Bearer worker-key" });
    expect(Object.fromEntries(out)).toEqual({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "x-stainless-os": "Linux",
      "x-request-id": "r-1",
      authorization: "Bearer worker-key",
    });
  });

  test("the client never sees framing or encoding that no longer describes the bytes", () => {
    const worker = new Headers({
      "content-type": "text/event-stream; charset=utf-8",
      "content-encoding": "gzip",
      "content-length": "99",
      "transfer-encoding": "chunked",
      server: "uvicorn",
    });
    expect(Object.fromEntries(downstreamHeaders(worker, { "x-ringgate-attempts": "1" }))).toEqual({
      "content-type": "text/event-stream; charset=utf-8",
      server: "uvicorn",
      "x-ringgate-attempts": "1",
    });
  });
});
