import { expect, test } from "bun:test";
import { treeCpuMs, treeCpuSplit } from "./proc-stats.ts";

function burnMs(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
}

test("JS work is billed to the event-loop thread, fetch's socket work to Bun's HTTP client thread", async () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x".repeat(64)) });
  try {
    const before = treeCpuSplit(process.pid);
    burnMs(300);
    for (let i = 0; i < 300; i++) await (await fetch(server.url)).text();
    const after = treeCpuSplit(process.pid);
    expect(after.eventLoopMs - before.eventLoopMs).toBeGreaterThanOrEqual(200);
    expect(after.fetchMs - before.fetchMs).toBeGreaterThan(0);
    // The split accounts for the whole process: its parts add up to the process's own figure.
    const sum = after.eventLoopMs + after.fetchMs + after.otherMs;
    expect(Math.abs(sum - treeCpuMs(process.pid))).toBeLessThanOrEqual(50);
  } finally {
    await server.stop(true);
  }
});
