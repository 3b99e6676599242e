// A pool of one worker has nobody else to ask: its retryable answers are asked of it again before the
// request falls back or the answer is passed through. Each row gets fresh emulators and a fresh gateway.
// The fault suite has the 500-once and 429-with-Retry-After rows; these are the rest.

import { afterEach, expect, test } from "bun:test";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";

const MESSAGES = [{ role: "user", content: "Which way to the castle?" }];

interface Row {
  name: string;
  /** Fault armed on heavy's only worker, for `count` requests (all when omitted). */
  fault: string;
  count?: number;
  stream: boolean;
  /** A fallback pool `light` of one healthy worker. */
  fallback?: boolean;
  expect: { status: number; results: string[]; pool?: string; retryAfter?: string };
}

/** Answered by the same worker's second attempt. */
function again(first: string): Row["expect"] {
  return { status: 200, results: [first, "ok"] };
}

const ROWS: Row[] = [
  { name: "500 once (stream)", fault: "status:500", count: 1, stream: true, expect: again("status_500") },
  { name: "503 once: the same worker", fault: "status:503", count: 1, stream: false, expect: again("status_503") },
  {
    name: "503 with a Retry-After longer than the gateway waits: passed through at once",
    fault: "status:503,retry-after:30",
    stream: false,
    expect: { status: 503, results: ["status_503"], retryAfter: "30" },
  },
  {
    name: "500 on every try: maxAttempts on the worker, then the fallback pool",
    fault: "status:500",
    stream: false,
    fallback: true,
    expect: { status: 200, results: ["status_500", "status_500", "status_500", "ok"], pool: "light" },
  },
];

let harness: EmulatedGateway | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

test.each(ROWS.map((row) => [row.name, row] as const))("one-worker pool: %s", async (_name, row) => {
  const pools: Record<string, number> = row.fallback ? { heavy: 1, light: 1 } : { heavy: 1 };
  harness = await startEmulatedGateway({ pools, fallback: { heavy: row.fallback ? ["light"] : [] } });
  const [worker] = harness.emulators;
  if (!worker) throw new Error("no worker");
  worker.setFault(row.fault, row.count);
  const body = { model: "heavy", messages: MESSAGES, stream: row.stream };
  const response = await harness.fixture.post("/v1/chat/completions", body);
  await response.text();
  expect(response.status).toBe(row.expect.status);
  expect(response.headers.get("x-ringgate-attempts")).toBe(String(row.expect.results.length));
  if (row.expect.retryAfter) expect(response.headers.get("retry-after")).toBe(row.expect.retryAfter);
  const fixture = harness.fixture;
  await waitFor(() => fixture.records.length === 1, 5_000, "the request record");
  const record = fixture.records[0];
  expect(record?.attempts.map((attempt) => attempt.result)).toEqual(row.expect.results);
  const heavyAttempts = record?.attempts.filter((attempt) => attempt.pool === "heavy") ?? [];
  expect(heavyAttempts.map((attempt) => attempt.worker)).toEqual(heavyAttempts.map(() => worker.url));
  expect(record?.pool).toBe(row.expect.pool ?? "heavy");
});
