import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";
import { parseConfig } from "../src/config/load.ts";
import type { ConfigInput } from "../src/config/schema.ts";
import { defaultFeatures } from "../src/features.ts";
import { startThreadedGateway, type ThreadedGateway } from "./threaded-gateway.ts";

/** Four serving threads (the owner and three more) on one port, in front of in-process emulators. */
const THREADS = 4;
const ADMIN_KEY = "admin-key-threads";
const CHAT = { model: "heavy", messages: [{ role: "user", content: "hi" }], max_tokens: 2 };

let emulators: EmulatorHandle[] = [];

beforeAll(async () => {
  const starts = [0, 1, 2, 3].map(() => startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", speed: 50 }));
  emulators = await Promise.all(starts);
});

afterAll(async () => {
  await Promise.all(emulators.map((emulator) => emulator.stop()));
});

async function threaded(config: ConfigInput): Promise<ThreadedGateway> {
  const parsed = parseConfig({ ...config, auth: { adminApiKey: ADMIN_KEY, ...config.auth } });
  const features = defaultFeatures();
  return startThreadedGateway({ config: parsed, port: 0, hostname: "127.0.0.1", features, threads: THREADS });
}

/** A request on a connection of its own, so the kernel spreads requests over the threads' sockets. */
function chat(url: string, body: unknown = CHAT): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", connection: "close" },
    body: JSON.stringify(body),
    keepalive: false,
  });
}

/** Which thread took a fresh connection ("0" is the owner, whose /health carries no thread header). */
async function threadOf(url: string): Promise<string> {
  const response = await fetch(`${url}/health`, { headers: { connection: "close" }, keepalive: false });
  return response.headers.get("x-ringgate-thread") ?? "0";
}

function served(): number[] {
  return emulators.map((emulator) => emulator.state().totalRequests);
}

describe(`THREADS=${THREADS}`, () => {
  test("the ring split is exact: 200 requests over 4 workers are 50 each, whichever threads took them", async () => {
    const gateway = await threaded({ pools: { heavy: { workers: emulators.map((emulator) => emulator.url) } } });
    try {
      const threads = new Set(await Promise.all(Array.from({ length: 40 }, () => threadOf(gateway.url))));
      expect(threads.size).toBeGreaterThan(1);
      const before = served();
      const statuses = await Promise.all(Array.from({ length: 200 }, async () => (await chat(gateway.url)).status));
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(served().map((count, i) => count - (before[i] ?? 0))).toEqual([50, 50, 50, 50]);
    } finally {
      await gateway.stop(1_000);
    }
  }, 60_000);
});
