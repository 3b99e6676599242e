import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { GatewayContext, GatewayFeature } from "../gateway.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { ManualSchedule } from "../testing/manual-schedule.ts";
import { waitFor } from "../testing/poll.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { type EmulatorHandle, startEmulator } from "../../workers/emulator/server.ts";
import { discoveryFeature } from "./discovery-feature.ts";

/** A pool whose members come from DNS follows the records: traffic goes where they point, and stops when they go. */
let worker: EmulatorHandle;
let fixture: GatewayFixture;
let records: string[] = ["127.0.0.1"];
const clock = new ManualSchedule();

beforeAll(async () => {
  worker = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 });
  const feature = discoveryFeature({
    resolver: async () => records,
    schedule: clock.schedule,
  });
  fixture = await startGatewayFixture(
    { pools: { heavy: { discovery: { dns: "heavy.ringgate.svc", port: worker.port, resolveIntervalMs: 1_000 } } } },
    [feature],
  );
});

afterAll(async () => {
  await fixture?.stop();
  await worker?.stop();
});

/** Fires the scheduled re-resolution and waits until it ran. */
async function resolveAgain(): Promise<void> {
  clock.advanceToNext();
  await waitFor(() => clock.pending.length === 1, 2_000, "the next resolution to be scheduled");
}

const ask = () => fixture.post("/v1/chat/completions", { model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

test("members resolved before listening serve traffic", async () => {
  const response = await ask();
  expect(response.status).toBe(200);
  expect(response.headers.get("x-ringgate-worker")).toBe(worker.url);
});

test("a record that stays keeps its slot; a removed one leaves the ring; a new one joins", async () => {
  const pool = fixture.gateway.pools.get("heavy");
  const slotBefore = pool?.worker(worker.url)?.slot;
  const events: WorkerEvent[] = [];
  fixture.gateway.events.on((event) => events.push(event));
  records = ["127.0.0.1", "127.0.0.2"];
  await resolveAgain();
  expect(events.map((e) => [e.pool, e.worker, e.state, e.actor])).toEqual([["heavy", `http://127.0.0.2:${worker.port}`, "added", "discovery"]]);
  expect(pool?.workers().map((w) => w.url)).toEqual([worker.url, `http://127.0.0.2:${worker.port}`]);
  expect(pool?.worker(worker.url)?.slot).toBe(slotBefore);
  records = [];
  await resolveAgain();
  expect(pool?.workers()).toEqual([]);
  expect(events.filter((e) => e.state === "removed").map((e) => e.worker).sort()).toEqual([worker.url, `http://127.0.0.2:${worker.port}`]);
  const response = await ask();
  expect(response.status).toBe(503);
  records = ["127.0.0.1"];
  await resolveAgain();
  expect((await ask()).status).toBe(200);
});

test("a pool whose discovery block arrives with a reload starts following its records", async () => {
  let context: GatewayContext | undefined;
  const capture: GatewayFeature = { name: "capture", setup: (ctx) => void (context = ctx) };
  const reloaded = await startGatewayFixture({ pools: { heavy: { workers: [worker.url] } } }, [capture, discoveryFeature({ resolver: async () => ["127.0.0.1"] })]);
  try {
    const light = { discovery: { dns: "light.ringgate.svc", port: worker.port, resolveIntervalMs: 60_000 }, upstreamModel: "heavy" };
    context?.replaceConfig(parseConfig({ pools: { heavy: { workers: [worker.url] }, light } }));
    await waitFor(() => (reloaded.gateway.pools.get("light")?.workers().length ?? 0) === 1, 5_000, "the new pool's members");
    const response = await reloaded.post("/v1/chat/completions", { model: "light", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ringgate-worker")).toBe(worker.url);
  } finally {
    await reloaded.stop();
  }
});
