import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../src/config/load.ts";
import type { ConfigInput } from "../src/config/schema.ts";
import type { GatewayContext } from "../src/gateway.ts";
import { type GatewayFixture, startGatewayFixture } from "../src/testing/gateway-fixture.ts";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";

/** The body limit follows the running config: a reload that raises or lowers it applies to the next request. */
let worker: EmulatorHandle;
let fixture: GatewayFixture;
let context: GatewayContext | undefined;

const config = (maxBodyBytes: number): ConfigInput => ({ pools: { heavy: { workers: [worker.url] } }, limits: { maxBodyBytes } });

beforeAll(async () => {
  worker = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 });
  fixture = await startGatewayFixture(config(4_096), [{ name: "capture", setup: (ctx) => void (context = ctx) }]);
});

afterAll(async () => {
  await fixture?.stop();
  await worker?.stop();
});

test("a reloaded body limit applies to the next request", async () => {
  const body = { model: "heavy", messages: [{ role: "user", content: "x".repeat(10_000) }], max_tokens: 2 };
  expect((await fixture.post("/v1/chat/completions", body)).status).toBe(413);
  context?.replaceConfig(parseConfig(config(64 * 1024)));
  expect((await fixture.post("/v1/chat/completions", body)).status).toBe(200);
  context?.replaceConfig(parseConfig(config(4_096)));
  expect((await fixture.post("/v1/chat/completions", body)).status).toBe(413);
});
