import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseWrkOutput, runWrk } from "./wrk-load.ts";

let server: ReturnType<typeof Bun.serve>;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "wrk-test-"));
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = (await request.json()) as { fail?: boolean };
      return body.fail === true ? new Response("no", { status: 500 }) : Response.json({ ok: true });
    },
  });
});

afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe("runWrk against a real server", () => {
  test.each([
    ["successful POSTs", { ok: 1 }, false],
    ["5xx answers are counted as errors", { fail: true }, true],
  ] as const)("%s", async (_name, body, expectErrors) => {
    const result = await runWrk({ url: server.url.origin, body, connections: 4, durationS: 1, scriptPath: join(dir, "s.lua") });
    expect(result.requests).toBeGreaterThan(0);
    expect(result.p50Ms).toBeGreaterThan(0);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
    expect(result.errors > 0).toBe(expectErrors);
  });
});

test.each([
  ["900.00us", 0.9],
  ["1.50ms", 1.5],
  ["2.00s", 2000],
] as const)("latency unit %s is read as %d ms", (text, ms) => {
  const output = `  Latency Distribution\n     50%  ${text}\n     99%  ${text}\n  10 requests in 1.00s, 1KB read\nRequests/sec:     10.00\n`;
  expect(parseWrkOutput(output).p50Ms).toBeCloseTo(ms, 6);
});
