import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminFeature } from "../admin/admin-feature.ts";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { pollValue, waitFor } from "../testing/poll.ts";
import { steadyLoad } from "../testing/steady-load.ts";
import { experimentsFeature } from "./experiments-feature.ts";

/**
 * Sleep and wake under a steady load of streams and non-stream requests, against real emulated vLLM
 * replicas in sleep mode: no request fails, a sleeping worker gets no traffic, and a woken one takes
 * traffic again only after its probe passed. The emulator cuts whatever runs when /sleep arrives, so
 * a sleep that did not wait for in-flight requests would show up as failures here.
 */

const ADMIN_KEY = "admin-key-0001";
const CLIENTS = 6;
let workers: EmulatorProcess[] = [];
let gateway: GatewayHandle;
const events: WorkerEvent[] = [];

beforeAll(async () => {
  const args = [
    "--served-model-name",
    "heavy",
    "--ttft-ms",
    "5",
    "--itl-ms",
    "8",
    "--enable-sleep-mode",
    "--wake-ms",
    "300",
  ];
  workers = await Promise.all([0, 1].map(() => spawnEmulator(args)));
  const config = parseConfig({
    pools: { heavy: { workers: workers.map((worker) => worker.url) } },
    health: { intervalMs: 150, timeoutMs: 1_000, unhealthyThreshold: 1 },
    retry: { maxAttempts: 1 },
    auth: { adminApiKey: ADMIN_KEY },
  });
  gateway = await startGateway({
    config,
    port: 0,
    hostname: "127.0.0.1",
    features: [healthFeature(), experimentsFeature(), adminFeature({ env: {} })],
  });
  gateway.events.on((event) => events.push(event));
});

afterAll(async () => {
  await gateway?.stop(500);
  await Promise.all(workers.map((worker) => worker.stop()));
});

const admin = (action: "sleep" | "wake", url: string) =>
  fetch(`${gateway.url}/admin/pools/heavy/workers/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ url }),
  });

const emulatorState = async (worker: EmulatorProcess) =>
  (await (await fetch(`${worker.url}/_emulator/state`)).json()) as { sleeping: boolean; cutBySleep: number };

describe("admin sleep and wake under steady load", () => {
  test("sleep one worker, wake it, then the other: 0 failed requests, 0 traffic while asleep", async () => {
    let phase = "warm";
    const load = steadyLoad(gateway.url, () => phase, { clients: CLIENTS });
    const steps: [string, () => Promise<void>][] = [];
    for (const [index, worker] of workers.entries()) {
      steps.push([
        `sleeping-${index}`,
        async () => {
          const response = await admin("sleep", worker.url);
          expect(response.status).toBe(200);
          expect(await response.json()).toEqual({ pool: "heavy", url: worker.url, action: "slept" });
        },
      ]);
      steps.push([
        `woken-${index}`,
        async () => {
          const response = await admin("wake", worker.url);
          expect(response.status).toBe(200);
        },
      ]);
    }
    await Bun.sleep(300);
    for (const [next, run] of steps) {
      phase = `${next}:pending`;
      await run();
      phase = next;
      // Let the load run a while in each phase: several probe rounds and ~15 requests per client.
      await Bun.sleep(400);
    }
    const sent = await load.stop();
    expect(sent.filter((s) => !s.ok || s.retried > 0)).toEqual([]);
    for (const [index, worker] of workers.entries()) {
      const asleep = sent.filter((s) => s.phase === `sleeping-${index}`);
      expect(asleep.length).toBeGreaterThan(CLIENTS);
      expect(asleep.filter((s) => s.worker === worker.url)).toEqual([]);
      // Once woken and probed it serves again.
      expect(sent.some((s) => s.phase === `woken-${index}` && s.worker === worker.url)).toBe(true);
      expect(await emulatorState(worker)).toEqual(expect.objectContaining({ sleeping: false, cutBySleep: 0 }));
    }
    const swaps = events
      .filter((e) => e.state === "sleeping" || e.state === "woken")
      .map((e) => `${e.state} ${e.worker} by ${e.actor}`);
    expect(swaps).toEqual(workers.flatMap((w) => [`sleeping ${w.url} by admin`, `woken ${w.url} by admin`]));
  }, 30_000);

  test("a worker put to sleep behind the gateway's back is taken out of rotation by its probe", async () => {
    const [sleeper, other] = workers;
    if (!sleeper || !other) throw new Error("two workers expected");
    expect((await fetch(`${sleeper.url}/sleep?level=1`, { method: "POST" })).status).toBe(200);
    try {
      const state = await pollValue(
        () => gateway.services.health?.snapshot().heavy?.find((w) => w.url === sleeper.url),
        (snapshot) => snapshot?.state === "unhealthy",
        5_000,
      );
      expect(state?.reason).toContain("sleeping (/is_sleeping true)");
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: `x${i}` }], max_tokens: 2 }),
        });
        await response.arrayBuffer();
        expect([response.status, response.headers.get("x-ringgate-worker")]).toEqual([200, other.url]);
      }
    } finally {
      await fetch(`${sleeper.url}/wake_up`, { method: "POST" });
      await waitFor(
        () => gateway.services.health?.snapshot().heavy?.every((w) => w.state === "healthy") ?? false,
        5_000,
        "both workers healthy",
      );
    }
  });

  test.each([
    ["an unknown pool", "nope", "http://127.0.0.1:1", 404],
    ["an unknown worker", "heavy", "http://127.0.0.1:1", 404],
    ["a body without url", "heavy", undefined, 400],
  ])("%s is refused", async (_name, pool, url, status) => {
    const response = await fetch(`${gateway.url}/admin/pools/${pool}/workers/sleep`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(url === undefined ? {} : { url }),
    });
    expect(response.status).toBe(status);
  });
});
