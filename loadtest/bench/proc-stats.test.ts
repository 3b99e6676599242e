import { expect, test } from "bun:test";
import { cpuPerRequest, treeCpuSnapshot } from "./proc-stats.ts";

function burnMs(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
}

test("JS work is billed to the event-loop thread, fetch's socket work to Bun's HTTP client thread", async () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x".repeat(64)) });
  try {
    const before = treeCpuSnapshot(process.pid);
    burnMs(300);
    for (let i = 0; i < 300; i++) await (await fetch(server.url)).text();
    const after = treeCpuSnapshot(process.pid);
    expect(after.totalMs - before.totalMs).toBeGreaterThanOrEqual(200);
    expect(after.eventLoopMs - before.eventLoopMs).toBeGreaterThanOrEqual(200);
    expect(after.fetchMs - before.fetchMs).toBeGreaterThan(0);
  } finally {
    await server.stop(true);
  }
});

test.each([
  { name: "the remainder is GC/JIT/other", before: { totalMs: 100, eventLoopMs: 60, fetchMs: 20 }, after: { totalMs: 300, eventLoopMs: 160, fetchMs: 60 }, split: { eventLoopMs: 50, fetchMs: 20, otherMs: 30 } },
  { name: "a tick of read skew never makes it negative", before: { totalMs: 100, eventLoopMs: 60, fetchMs: 40 }, after: { totalMs: 200, eventLoopMs: 170, fetchMs: 40 }, split: { eventLoopMs: 55, fetchMs: 0, otherMs: 0 } },
])("per request between snapshots: $name", ({ before, after, split }) => {
  expect(cpuPerRequest(before, after, 2)).toEqual({ totalMs: (after.totalMs - before.totalMs) / 2, split });
});
