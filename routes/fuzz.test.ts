import { afterAll, beforeAll, expect, test } from "bun:test";
import { seededRandom } from "../loadtest/scenarios/seeded-random.js";
import { parseConfig } from "../src/config/load.ts";
import { defaultFeatures } from "../src/features.ts";
import { type GatewayHandle, startGateway } from "../app/gateway-app.ts";
import { type EmulatorProcess, spawnEmulator } from "../src/testing/emulator-process.ts";

/**
 * Random mutations of valid requests (JSON-, byte- and header-level), bounded in count and time.
 * The gateway must never answer 5xx itself, never hang, never crash, and must end with nothing in
 * flight and memory near its baseline. A failure prints the seed and the request that caused it.
 */

const MAX_MUTATIONS = 3_000;
const TIME_BUDGET_MS = 15_000;
const CONCURRENCY = 8;
const REQUEST_DEADLINE_MS = 15_000;
const KEY = "fuzz-key-0001";
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
let worker: EmulatorProcess;
let gateway: GatewayHandle;

beforeAll(async () => {
  worker = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "1", "--itl-ms", "0", "--max-model-len", "2048", "--max-num-seqs", "64"]);
  const config = parseConfig({
    pools: { heavy: { workers: [worker.url] } },
    auth: { keys: [{ name: "fuzz", key: KEY }] },
    limits: { maxBodyBytes: 64 * 1024 },
  });
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: defaultFeatures() });
});

afterAll(async () => {
  await gateway?.stop(100);
  await worker?.stop();
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SEEDS: { path: string; body: Json }[] = [
  { path: "/v1/chat/completions", body: { model: "heavy", max_tokens: 8, messages: [{ role: "user", content: "hi" }] } },
  { path: "/v1/chat/completions", body: { model: "heavy", max_tokens: 8, stream: true, stream_options: { include_usage: true }, messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }] } },
  {
    path: "/v1/chat/completions",
    body: {
      model: "heavy",
      max_tokens: 16,
      tool_choice: "required",
      tools: [{ type: "function", function: { name: "roll", parameters: { type: "object", properties: { sides: { type: "integer" } } } } }],
      messages: [{ role: "user", content: [{ type: "text", text: "roll a die" }] }],
    },
  },
  { path: "/v1/completions", body: { model: "heavy", max_tokens: 8, prompt: "Once upon a time" } },
];

class Mutator {
  readonly #next: () => number;

  constructor(next: () => number) {
    this.#next = next;
  }

  int(below: number): number {
    return Math.floor(this.#next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  value(depth = 0): Json {
    const choices: (() => Json)[] = [
      () => null,
      () => this.#next() < 0.5,
      () => this.pick([0, -1, 1, 2, 1.5, 1e20, -1e20, 2 ** 53 + 1, 4096, 1e-9]),
      () => this.pick(["", "heavy", "light", "x".repeat(this.int(5_000)), "\u0000\u202e💥", "[DONE]", "data: x\n\n", "../../etc"]),
      () => (depth > 3 ? [] : Array.from({ length: this.int(4) }, () => this.value(depth + 1))),
      (): Json => (depth > 3 ? {} : { role: this.value(depth + 1), content: this.value(depth + 1) }),
    ];
    return this.pick(choices)();
  }

  /** Replaces, deletes or adds one field somewhere in the tree. */
  mutateJson(body: Json): Json {
    if (body === null || typeof body !== "object" || this.int(6) === 0) return this.value();
    const copy: Json = Array.isArray(body) ? [...body] : { ...body };
    const keys = Object.keys(copy);
    const key = keys.length > 0 && this.int(4) > 0 ? this.pick(keys) : this.pick(["n", "stream", "model", "messages", "extra_body", "best_of", "logprobs", "priority", "stream_options", "max_tokens"]);
    const record = copy as Record<string, Json>;
    const action = this.int(3);
    if (action === 0) delete record[key];
    else if (action === 1) record[key] = this.value();
    else record[key] = this.mutateJson(record[key] ?? null);
    return copy;
  }

  mutateBytes(text: string): Uint8Array {
    const bytes = [...new TextEncoder().encode(text)];
    const at = this.int(bytes.length + 1);
    switch (this.int(5)) {
      case 0:
        return new Uint8Array(bytes.slice(0, at));
      case 1:
        bytes.splice(at, 0, ...Array.from({ length: 1 + this.int(4) }, () => this.int(256)));
        break;
      case 2:
        bytes.splice(at, 1 + this.int(8));
        break;
      case 3:
        bytes.splice(at, 0, ...bytes.slice(at, at + this.int(64)));
        break;
      default:
        bytes[at] = this.pick([0x22, 0x5b, 0x7b, 0x5c, 0x00, 0xff, 0xc0]);
    }
    return new Uint8Array(bytes);
  }
}

interface FuzzCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

function makeCase(mutator: Mutator): FuzzCase {
  const seed = mutator.pick(SEEDS);
  let json: Json = seed.body;
  for (let i = 0, count = 1 + mutator.int(3); i < count; i++) json = mutator.mutateJson(json);
  const text = JSON.stringify(json);
  const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
  const headerMutation = mutator.int(12);
  if (headerMutation === 0) headers["content-type"] = mutator.pick(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]);
  if (headerMutation === 1) headers["content-encoding"] = mutator.pick(["gzip", "br", "identity"]);
  if (headerMutation === 2) headers.authorization = mutator.pick(["Bearer", `Bearer ${KEY}x`, `bearer ${KEY}`, `Bearer  ${KEY} extra`]);
  const pathMutation = mutator.int(20);
  const path = pathMutation === 0 ? mutator.pick(["/v1/chat/completions/", "/v1/chat", "/v1/../v1/chat/completions", "/v1/chat/completions?stream=true", "/v1/%00"]) : seed.path;
  const method = mutator.int(30) === 0 ? mutator.pick(["PUT", "PATCH", "GET", "OPTIONS", "DELETE"]) : "POST";
  const body = mutator.int(3) === 0 ? mutator.mutateBytes(text) : text;
  return { method, path, headers, body: method === "GET" ? "" : body };
}

function describeCase(item: FuzzCase): string {
  const body = typeof item.body === "string" ? item.body : Buffer.from(item.body).toString("latin1");
  return `${item.method} ${item.path} ${JSON.stringify(item.headers)} ${body.slice(0, 400)}`;
}

async function send(item: FuzzCase): Promise<{ status: number; error?: string }> {
  try {
    const response = await fetch(`${gateway.url}${item.path}`, {
      method: item.method,
      headers: item.headers,
      body: item.method === "GET" ? undefined : item.body,
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    await response.arrayBuffer();
    return { status: response.status };
  } catch (error) {
    return { status: 0, error: (error as Error).message };
  }
}

test(`fuzz: up to ${MAX_MUTATIONS} mutations in ${TIME_BUDGET_MS / 1000} s — no gateway 5xx, no hang, no crash, no leak`, async () => {
  const mutator = new Mutator(seededRandom(SEED));
  const settle = (): number => {
    Bun.gc(true);
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  const baselineMb = settle();
  const endMs = Date.now() + TIME_BUDGET_MS;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < MAX_MUTATIONS && Date.now() < endMs && failures.length < 5) {
      sent++;
      const item = makeCase(mutator);
      const result = await send(item);
      statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
      if (result.status === 0 || result.status >= 500) failures.push(`${result.status} ${result.error ?? ""} ← ${describeCase(item)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  console.log(`fuzz seed ${SEED}: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  expect(failures, `seed ${SEED}`).toEqual([]);
  expect(sent).toBeGreaterThan(500);

  expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  const deadlineMs = Date.now() + 15_000;
  while (gateway.pools.get("heavy")?.state.poolInFlight !== 0 && Date.now() < deadlineMs) await Bun.sleep(50);
  expect(gateway.pools.get("heavy")?.state.poolInFlight).toBe(0);
  expect(settle() - baselineMb).toBeLessThan(32);
}, 60_000);
