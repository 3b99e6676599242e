import { expect, test } from "bun:test";
import { cpuPerRequest, RssSampler, treeCpuSnapshot, treeMemoryMb } from "./proc-stats.ts";

/** Burns `ms` of this thread's CPU time, not wall time: on a loaded machine the wall clock overstates the work. */
function burnCpuMs(ms: number): void {
  const endUs = process.cpuUsage().user + ms * 1000;
  let x = 0;
  while (process.cpuUsage().user < endUs) for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
}

test("JS work is billed to the event-loop thread, fetch's socket work to Bun's HTTP client thread", async () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x".repeat(64)) });
  try {
    const before = treeCpuSnapshot(process.pid);
    burnCpuMs(300);
    // The kernel bills CPU in 10 ms ticks: fetch until the HTTP client thread has been billed one (bounded).
    let after = treeCpuSnapshot(process.pid);
    for (let round = 0; round < 20 && after.fetchMs === before.fetchMs; round++) {
      for (let i = 0; i < 300; i++) await (await fetch(server.url)).text();
      after = treeCpuSnapshot(process.pid);
    }
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

test("the memory sampler keeps the peak of a child's heap, and the executable's pages count in RSS only", async () => {
  // The child fills 96 MB of heap, frees it and then waits: the peak must outlast the drop.
  const script = "let b = Buffer.alloc(96 * 1048576, 1); console.log('full'); await Bun.sleep(300); b = undefined; Bun.gc(true); console.log('freed'); await Bun.sleep(60000);";
  const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe" });
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const sampler = new RssSampler(child.pid);
    sampler.start(10);
    let output = "";
    while (!output.includes("full")) output += (await lines.read()).value ?? "";
    expect(sampler.mark().anonMb).toBeGreaterThanOrEqual(96);
    while (!output.includes("freed")) output += (await lines.read()).value ?? "";
    const peak = sampler.stop();
    expect(peak.anonMb).toBeGreaterThanOrEqual(96);
    expect(peak.rssMb - peak.anonMb).toBeGreaterThanOrEqual(10);
    expect(treeMemoryMb(child.pid).anonMb).toBeLessThan(peak.anonMb);
  } finally {
    child.kill();
    await child.exited;
  }
});
