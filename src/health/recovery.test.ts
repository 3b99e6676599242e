// A worker that flaps down and up under steady traffic: no request fails while the other worker can
// serve, and each time the worker returns it is back in rotation within one probe interval plus cooldown.

import { afterAll, expect, test } from "bun:test";
import { type EmulatorHandle, startEmulator } from "../../workers/emulator/server.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";
import { healthFeature } from "./health-feature.ts";

const EMULATOR = { servedModelName: "heavy", ttftMs: 10, itlMs: 2, outputTokens: 8 } as const;
const PROBE_INTERVAL_MS = 250;
const EJECT_BASE_MS = 400;
/** Scheduling noise on two loaded cores; the bound under test is interval + cooldown. */
const SLACK_MS = 1_500;

let fixture: GatewayFixture | undefined;
const emulators: EmulatorHandle[] = [];

afterAll(async () => {
  await fixture?.stop();
  await Promise.all(emulators.map((emulator) => emulator.stop()));
});

test("a flapping worker: traffic never fails, and each recovery is back in rotation within interval + cooldown", async () => {
  emulators.push(await startEmulator({ ...EMULATOR, port: 0 }), await startEmulator({ ...EMULATOR, port: 0 }));
  const url = (emulators[0] as EmulatorHandle).url;
  const port = (emulators[0] as EmulatorHandle).port;
  fixture = await startGatewayFixture(
    {
      pools: { heavy: { workers: emulators.map((emulator) => emulator.url) } },
      timeouts: { connectMs: 500, firstTokenMs: 2_000, idleMs: 1_000, totalMs: 10_000 },
      health: { intervalMs: PROBE_INTERVAL_MS, timeoutMs: 500, unhealthyThreshold: 1, healthyThreshold: 1, ejectBaseMs: EJECT_BASE_MS, ejectMaxMs: EJECT_BASE_MS },
    },
    [healthFeature()],
  );
  const services = fixture.gateway.services;
  const gateway = fixture;
  const failures: string[] = [];
  let stop = false;
  const traffic = (async () => {
    while (!stop) {
      const response = await gateway.post("/v1/chat/completions", { model: "heavy", messages: [{ role: "user", content: "ping" }], stream: true });
      const transcript = await readSse(response);
      // A stream the stopping worker was in the middle of is cut (in-band error): that is the promise too.
      const cutByStop = response.status === 200 && transcript.error !== undefined && !transcript.done && response.headers.get("x-ringgate-worker") === url;
      if (!cutByStop && (response.status !== 200 || !transcript.done)) failures.push(`${response.status} ${JSON.stringify(transcript.error)}`);
    }
  })();
  const stateOf = () => services.health?.snapshot().heavy?.[0]?.state;
  const servedBy = (fromIndex: number) => gateway.records.slice(fromIndex).some((record) => record.worker === url && record.outcome === "ok");
  const recoveriesMs: number[] = [];
  for (let flap = 0; flap < 2; flap++) {
    await emulators[0]?.stop();
    await waitFor(() => stateOf() !== "healthy", 5_000, "the stopped worker out of rotation");
    await Bun.sleep(EJECT_BASE_MS);
    emulators[0] = await startEmulator({ ...EMULATOR, port });
    const upAt = performance.now();
    const recordsAtUp = gateway.records.length;
    await waitFor(() => stateOf() === "healthy" && servedBy(recordsAtUp), 10_000, "the worker back in rotation");
    recoveriesMs.push(performance.now() - upAt);
  }
  stop = true;
  await traffic;
  expect(failures).toEqual([]);
  for (const recoveryMs of recoveriesMs) expect(recoveryMs).toBeLessThan(PROBE_INTERVAL_MS + EJECT_BASE_MS + SLACK_MS);
  expect(gateway.records.filter((record) => record.attempts.length > 1).length).toBeGreaterThan(0);
});
