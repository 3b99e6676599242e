import { afterAll, beforeAll, expect, test } from "bun:test";
import { WorkerMetricsPoller } from "./worker-metrics.ts";

let waiting = 0;
let served = 0;
let server: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      served++;
      return new Response(`vllm:num_requests_running{engine="0",model_name="heavy"} 4.0\nvllm:num_requests_waiting{engine="0",model_name="heavy"} ${waiting}.0\n`);
    },
  });
});
afterAll(() => server.stop(true));

test("the poller keeps the maximum seen while the gauge rises and falls", async () => {
  const poller = new WorkerMetricsPoller([server.url.href], 10);
  poller.start();
  for (const value of [2, 7, 1]) {
    waiting = value;
    // Two more scrapes served after the change means at least one fully saw this value.
    const target = served + 2;
    const deadline = performance.now() + 5000;
    while (served < target && performance.now() < deadline) await Bun.sleep(5);
  }
  const [stats] = await poller.stop();
  expect(stats?.maxWaiting).toBe(7);
  expect(stats?.failedScrapes).toBe(0);
});
