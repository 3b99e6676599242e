import { afterAll, beforeAll, expect, test } from "bun:test";
import { gaugeValue, WorkerMetricsPoller } from "./worker-metrics.ts";

const EXPOSITION = `# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="heavy"} 3.0
vllm:num_requests_waiting_by_reason{engine="0",reason="x"} 99.0
vllm:num_requests_running{engine="0",model_name="heavy"} 12.0
`;

test.each([
  ["vllm:num_requests_waiting", 3],
  ["vllm:num_requests_running", 12],
  ["vllm:missing", undefined],
] as const)("gaugeValue(%s) reads only that exact metric", (name, expected) => {
  expect(gaugeValue(EXPOSITION, name)).toBe(expected);
});

let waiting = 0;
let served = 0;
let server: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      served++;
      return new Response(`vllm:num_requests_waiting{engine="0",model_name="heavy"} ${waiting}.0\n`);
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
