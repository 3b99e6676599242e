import { afterEach, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";
import type { ConfigInput } from "../src/config/schema.ts";
import { healthFeature } from "../src/health/health-feature.ts";
import { closedPortUrl, type GatewayFixture, startGatewayFixture } from "../src/testing/gateway-fixture.ts";
import { pollValue } from "../src/testing/poll.ts";

/** `/ready` of one gateway replica, against real emulated workers and real dead ones. */
interface Readiness {
  status: number;
  body: { ready: boolean; probed: boolean; pools: Record<string, { serving: number; total: number }> };
  text: string;
}

const PROBE_TIMEOUT_MS = 1_500;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function emulator(model: string): Promise<EmulatorHandle> {
  const handle = await startEmulator({ port: 0, servedModelName: model });
  cleanups.push(() => handle.stop());
  return handle;
}

/** Accepts connections and never answers: a probe of it lasts the whole probe timeout. */
function silentWorker(): string {
  const listener: TCPSocketListener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  cleanups.push(() => listener.stop(true));
  return `http://127.0.0.1:${listener.port}`;
}

async function gateway(pools: Record<string, string[]>): Promise<GatewayFixture> {
  const config: ConfigInput = {
    pools: Object.fromEntries(Object.entries(pools).map(([name, workers]) => [name, { workers }])),
    health: { intervalMs: 200, timeoutMs: PROBE_TIMEOUT_MS, unhealthyThreshold: 1 },
  };
  const fixture = await startGatewayFixture(config, [healthFeature()]);
  cleanups.push(() => fixture.stop());
  return fixture;
}

async function readiness(fixture: GatewayFixture): Promise<Readiness> {
  const response = await fetch(`${fixture.url}/ready`);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Readiness["body"], text };
}

describe("GET /ready", () => {
  test("503 until the first probe round has finished, even while the workers look fine", async () => {
    const heavy = await emulator("heavy");
    const fixture = await gateway({ heavy: [heavy.url], light: [silentWorker()] });
    const early = await readiness(fixture);
    expect(early.status).toBe(503);
    expect(early.body).toMatchObject({ ready: false, probed: false });
    const later = await pollValue(() => readiness(fixture), (r) => r.body.probed, PROBE_TIMEOUT_MS * 4);
    expect(later.status).toBe(200);
    expect(later.body.pools.heavy).toEqual({ serving: 1, total: 1 });
  });

  test("a light outage keeps the replica ready while heavy serves; counts only, no worker URLs", async () => {
    const heavy = await Promise.all([emulator("heavy"), emulator("heavy")]);
    const fixture = await gateway({ heavy: heavy.map((worker) => worker.url), light: [await closedPortUrl(), await closedPortUrl()] });
    const ready = await pollValue(() => readiness(fixture), (r) => r.body.probed, 10_000);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, probed: true, pools: { heavy: { serving: 2, total: 2 }, light: { serving: 0, total: 2 } } });
    expect(ready.text).not.toContain("http");
  });

  test("503 once no pool can serve, and 200 again when a worker comes back", async () => {
    const heavy = await emulator("heavy");
    const fixture = await gateway({ heavy: [heavy.url], light: [await closedPortUrl()] });
    await pollValue(() => readiness(fixture), (r) => r.status === 200, 10_000);
    const port = heavy.port;
    await heavy.stop();
    const down = await pollValue(() => readiness(fixture), (r) => r.body.pools.heavy?.serving === 0, 10_000);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ ready: false, probed: true });
    const back = await startEmulator({ port, servedModelName: "heavy" });
    cleanups.push(() => back.stop());
    const up = await pollValue(() => readiness(fixture), (r) => r.status === 200, 10_000);
    expect(up.body.pools.heavy).toEqual({ serving: 1, total: 1 });
  });
});
