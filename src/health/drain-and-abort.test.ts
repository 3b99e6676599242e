import { expect, test } from "bun:test";
import { stopAfterEach } from "../testing/stop-after-each.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const open = stopAfterEach<EmulatedGateway>();

async function harness(...args: Parameters<typeof startEmulatedGateway>): Promise<EmulatedGateway> {
  const started = await startEmulatedGateway(...args);
  open.push(started);
  return started;
}

const body = (stream: boolean) => ({ model: "heavy", stream, messages: [{ role: "user", content: "drain me" }] });

const SLOW_START = { "x-emulator-fault": "slow-first-token:400" };

/** The emulator now running exactly one request (the one the test started). */
async function busyWorker(h: EmulatedGateway) {
  await waitFor(() => h.emulators.some((emulator) => emulator.state().running === 1), 5_000, "the request to reach a worker");
  const busy = h.emulators.find((emulator) => emulator.state().running === 1);
  if (!busy) throw new Error("no busy worker");
  return busy;
}

test("drain: the stream in flight finishes with [DONE], new requests avoid the worker, /ready counts it, health says why", async () => {
  const h = await harness({ pools: { heavy: 2 } });
  const inFlight = h.fixture.post("/v1/chat/completions", body(true), SLOW_START);
  const drained = await busyWorker(h);
  const other = h.emulators.find((emulator) => emulator !== drained);
  h.services.health?.drain("heavy", drained.url, "ops-key");
  const later = await Promise.all([0, 1, 2].map(() => h.fixture.post("/v1/chat/completions", body(false))));
  expect(later.map((response) => response.headers.get("x-ringgate-worker"))).toEqual([other?.url, other?.url, other?.url].map(String));
  const first = await inFlight;
  expect(first.headers.get("x-ringgate-worker")).toBe(drained.url);
  expect(await readSse(first)).toMatchObject({ done: true, finishReason: "stop", error: undefined });
  const ready = (await (await fetch(`${h.fixture.url}/ready`)).json()) as { pools: unknown };
  expect(ready.pools).toEqual({ heavy: { serving: 1, total: 2 } });
  const workers = h.services.health?.snapshot().heavy;
  expect(workers?.find((worker) => worker.url === drained.url)).toMatchObject({ state: "drained", reason: "drained by ops-key" });
  expect(workers?.find((worker) => worker.url === other?.url)).toMatchObject({ state: "healthy" });
});

const abortCases: [string, Record<string, string>, (h: EmulatedGateway, controller: AbortController) => Promise<void>][] = [
  [
    "before the first token",
    SLOW_START,
    async (h, controller) => {
      await busyWorker(h);
      controller.abort();
    },
  ],
  [
    "mid-stream",
    { "x-emulator-fault": "stall-after:2" },
    async (h, controller) => {
      await busyWorker(h);
      await Bun.sleep(50);
      controller.abort();
    },
  ],
];

test.each(abortCases)("a client's own abort %s never counts against the worker", async (_name, faultHeader, abort) => {
  const h = await harness({ pools: { heavy: 2 } });
  const controller = new AbortController();
  const pending = fetch(`${h.fixture.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...faultHeader },
    body: JSON.stringify(body(true)),
    signal: controller.signal,
  }).then((response) => response.text());
  await abort(h, controller);
  await pending.catch(() => undefined);
  await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
  const record = h.fixture.records[0];
  expect(record?.outcome).toBe("client_abort");
  const worker = h.services.health?.snapshot().heavy?.find((w) => w.url === record?.attempts[0]?.worker);
  expect(worker).toMatchObject({ state: "healthy", ejections: 0 });
});
