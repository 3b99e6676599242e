import { afterAll, beforeAll, expect, test } from "bun:test";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { waitFor } from "../testing/poll.ts";
import { type EmulatorHandle, startEmulator } from "../../workers/emulator/server.ts";

/** A client that leaves while the gateway honours a worker's Retry-After must not start another attempt. */
let busy: EmulatorHandle;
let spare: EmulatorHandle;
let fixture: GatewayFixture;

beforeAll(async () => {
  busy = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50, fault: "status:503,retry-after:1" });
  spare = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 });
  fixture = await startGatewayFixture({ pools: { heavy: { workers: [busy.url, spare.url] } }, retry: { maxRetryAfterMs: 2_000 } });
});

afterAll(async () => {
  await fixture?.stop();
  await Promise.all([busy?.stop(), spare?.stop()]);
});

test("leaving during the Retry-After wait ends the request without a second attempt", async () => {
  const controller = new AbortController();
  // The gateway's first request: the ring starts at the busy worker, which asks for a 1 s pause.
  const request = fetch(`${fixture.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    signal: controller.signal,
  }).catch((error: unknown) => error);
  // In the wait: the busy worker answered (its slot is free) while the request still holds its admission.
  const pool = fixture.gateway.pools.get("heavy");
  const busySlot = pool?.worker(busy.url)?.slot ?? -1;
  const waiting = () => busy.state().totalRequests === 1 && pool?.state.inFlight(busySlot) === 0 && pool?.state.poolInFlight === 1;
  await waitFor(waiting, 5_000, "the gateway to be waiting out the worker's Retry-After");
  controller.abort();
  await request;
  await waitFor(() => fixture.records.length === 1, 5_000, "the request's record");
  expect(fixture.records[0]?.outcome).toBe("client_abort");
  expect(fixture.records[0]?.attempts.map((attempt) => attempt.result)).toEqual(["status_503"]);
  expect(spare.state().totalRequests).toBe(0);
});
