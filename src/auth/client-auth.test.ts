import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { clientAuthFeature } from "./client-auth-feature.ts";
import { corsFeature } from "./cors-feature.ts";

/** Access rules against a real gateway, real emulated workers and the real OpenAI SDK. */

const WORKER_KEY = "worker-only-secret";
let heavy: EmulatorProcess;
let light: EmulatorProcess;
let gateway: GatewayHandle;
let open: GatewayHandle;
let clockMs = 0;
const records: RequestRecord[] = [];

beforeAll(async () => {
  [heavy, light] = await Promise.all([
    spawnEmulator(["--served-model-name", "heavy", "--speed", "50", "--api-key", WORKER_KEY]),
    spawnEmulator(["--served-model-name", "light", "--speed", "50"]),
  ]);
  const pools = { heavy: { workers: [heavy.url], workerApiKey: WORKER_KEY }, light: { workers: [light.url] } };
  const config = parseConfig({
    pools,
    auth: {
      keys: [
        { name: "game", key: "game-key-0001" },
        { name: "light-only", key: "light-key-0001", pools: ["light"] },
        { name: "two-per-minute", key: "rpm-key-0001", requestsPerMinute: 2 },
        { name: "few-tokens", key: "tpm-key-0001", tokensPerMinute: 10 },
        { name: "few-tokens-streamed", key: "tpm-stream-key-0001", tokensPerMinute: 10 },
      ],
    },
    cors: { origins: ["https://game.example"] },
  });
  const recorder = { name: "recorder", setup: (ctx: { onFinish(l: (r: RequestRecord) => void): void }) => ctx.onFinish((r) => records.push(r)) };
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: [recorder, corsFeature(), clientAuthFeature({ now: () => clockMs })] });
  open = await startGateway({ config: parseConfig({ pools }), port: 0, hostname: "127.0.0.1", features: [corsFeature(), clientAuthFeature()] });
});

afterAll(async () => {
  await Promise.all([gateway?.stop(100), open?.stop(100)]);
  await Promise.all([heavy?.stop(), light?.stop()]);
});

function client(apiKey: string, url = gateway.url): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
}

async function ask(apiKey: string, model = "heavy", url = gateway.url): Promise<{ status: number; code?: string; headers?: Headers; text?: string }> {
  try {
    const completion = await client(apiKey, url).chat.completions.create({ model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    return { status: 200, text: completion.choices[0]?.message.content ?? "" };
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    return { status: error.status ?? 0, code: String(error.code), headers: error.headers };
  }
}

describe("client keys", () => {
  const scenarios: { name: string; apiKey: string; model?: string; status: number; code?: string }[] = [
    { name: "valid key", apiKey: "game-key-0001", status: 200 },
    { name: "valid key, other pool", apiKey: "game-key-0001", model: "light", status: 200 },
    { name: "wrong key", apiKey: "game-key-0002", status: 401, code: "unauthorized" },
    { name: "the worker's key is not a client key", apiKey: WORKER_KEY, status: 401, code: "unauthorized" },
    { name: "key limited to light asks for heavy", apiKey: "light-key-0001", model: "heavy", status: 403, code: "forbidden" },
    { name: "key limited to light asks for light", apiKey: "light-key-0001", model: "light", status: 200 },
  ];
  test.each(scenarios)("$name → $status", async ({ apiKey, model, status, code }) => {
    const answer = await ask(apiKey, model);
    expect(answer.status).toBe(status);
    if (code) expect(answer.code).toBe(code);
  });

  test("no Authorization header → 401 in the OpenAI envelope", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe("unauthorized");
    expect(body.error.type).toBe("authentication_error");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  test("/v1/models needs a key too", async () => {
    expect((await fetch(`${gateway.url}/v1/models`)).status).toBe(401);
    expect((await client("game-key-0001").models.list()).data.map((m) => m.id).sort()).toEqual(["heavy", "light"]);
  });

  test("/v1/models lists only the pools the key may use", async () => {
    expect((await client("light-key-0001").models.list()).data.map((m) => m.id)).toEqual(["light"]);
  });

  test("records carry the key's name, never the key", async () => {
    records.length = 0;
    await ask("game-key-0001");
    await ask("light-key-0001", "heavy");
    expect(records.map((r) => [r.keyName, r.status])).toEqual([["game", 200], ["light-only", 403]]);
    expect(JSON.stringify(records)).not.toContain("key-0001");
  });

  test("without keys configured /v1/* is open", async () => {
    expect((await ask("anything", "light", open.url)).status).toBe(200);
  });
});

describe("limits", () => {
  test("requests/min: the third request in a minute gets 429 rate_limited with Retry-After", async () => {
    expect((await ask("rpm-key-0001")).status).toBe(200);
    expect((await ask("rpm-key-0001")).status).toBe(200);
    const refused = await ask("rpm-key-0001");
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("rate_limited");
    expect(Number(refused.headers?.get("retry-after"))).toBe(30);
    clockMs += 30_000;
    expect((await ask("rpm-key-0001")).status).toBe(200);
  });

  test("tokens/min: charged from the answer's usage; refused while in debt, admitted after refill", async () => {
    expect((await ask("tpm-key-0001")).status).toBe(200);
    const refused = await ask("tpm-key-0001");
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("rate_limited");
    expect(Number(refused.headers?.get("retry-after"))).toBeGreaterThan(0);
    clockMs += 5 * 60_000;
    expect((await ask("tpm-key-0001")).status).toBe(200);
  });

  test("tokens/min counts streamed answers too (usage the gateway asked the worker for)", async () => {
    const stream = await client("tpm-stream-key-0001").chat.completions.create({ model: "light", stream: true, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    let chunks = 0;
    for await (const _chunk of stream) chunks++;
    expect(chunks).toBeGreaterThan(1);
    // The charge lands when the gateway records the finished stream, a moment after the client saw [DONE].
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 429; attempt++) {
      status = (await ask("tpm-stream-key-0001", "light")).status;
      if (status !== 429) await Bun.sleep(50);
    }
    expect(status).toBe(429);
  });
});

describe("worker API key", () => {
  test("the gateway sends the pool's worker key upstream; the client's key never reaches the worker", async () => {
    const direct = await fetch(`${heavy.url}/v1/models`, { headers: { authorization: "Bearer game-key-0001" } });
    expect(direct.status).toBe(401);
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer game-key-0001" },
      body: JSON.stringify({ model: "heavy", max_tokens: 4, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    const raw = `${JSON.stringify([...response.headers])}${await response.text()}`;
    expect(raw).not.toContain(WORKER_KEY);
  });
});

describe("CORS", () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });

  test("allowed origin: preflight needs no key and is allowed; answers expose the request id", async () => {
    const response = await preflight(gateway.url, "https://game.example");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://game.example");
    expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
    const answer = await fetch(`${gateway.url}/v1/models`, { headers: { origin: "https://game.example", authorization: "Bearer game-key-0001" } });
    expect(answer.headers.get("access-control-allow-origin")).toBe("https://game.example");
    expect(answer.headers.get("access-control-expose-headers")).toContain("x-request-id");
  });

  test("other origin: no allow-origin header", async () => {
    const response = await preflight(gateway.url, "https://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("off by default: no CORS headers at all", async () => {
    const response = await fetch(`${open.url}/v1/models`, { headers: { origin: "https://game.example" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });
});
