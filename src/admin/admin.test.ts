import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import { type EmulatorProcess, spawnEmulator } from "../testing/emulator-process.ts";
import { adminFeature } from "./admin-feature.ts";

/** Each admin action against a real gateway and real emulated workers. */

const ADMIN_KEY = "admin-key-0001";
const dir = mkdtempSync(join(tmpdir(), "ringgate-admin-"));
const configPath = join(dir, "config.json");
const env = { CONFIG: configPath, ADMIN_API_KEY: ADMIN_KEY };
let workers: EmulatorProcess[] = [];
let gateway: GatewayHandle;
let disabled: GatewayHandle;
const events: WorkerEvent[] = [];

const url = (index: number): string => workers[index]?.url ?? "";
const operatorEvents = (): string[][] =>
  events.filter((e) => ["drained", "undrained", "added", "removed"].includes(e.state)).map((e) => [e.state, e.worker, e.actor]);

function writeConfig(pools: Record<string, unknown>): void {
  writeFileSync(configPath, JSON.stringify({ pools }));
}

beforeAll(async () => {
  workers = await Promise.all([0, 1, 2].map(() => spawnEmulator(["--served-model-name", "heavy", "--speed", "50"])));
  writeConfig({ heavy: { workers: [url(0), url(1)] } });
  gateway = await startGateway({ config: loadConfig(env), port: 0, hostname: "127.0.0.1", features: [healthFeature(), adminFeature({ env })] });
  gateway.events.on((event) => events.push(event));
  const plain = parseConfig({ pools: { heavy: { workers: [url(0)] } } });
  disabled = await startGateway({ config: plain, port: 0, hostname: "127.0.0.1", features: [healthFeature(), adminFeature({ env: {} })] });
});

afterAll(async () => {
  await Promise.all([gateway?.stop(100), disabled?.stop(100)]);
  await Promise.all(workers.map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function admin(method: string, path: string, body?: unknown, key = ADMIN_KEY, base = gateway.url): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

interface PoolsBody {
  pools: {
    name: string;
    workers: { url: string; state: string; reason: string; inFlight: number; samples: number; errorRate: number | null; drainedBy?: string; load?: { running: number } }[];
  }[];
}

async function pools(): Promise<PoolsBody["pools"]> {
  return ((await (await admin("GET", "/admin/pools")).json()) as PoolsBody).pools;
}

/** Which workers answer `count` sequential requests (the proxy names them in x-ringgate-worker). */
async function answeringWorkers(count: number, model = "heavy"): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 2, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    seen.add(response.headers.get("x-ringgate-worker") ?? "");
  }
  return seen;
}

describe("admin access", () => {
  const cases: { name: string; key: string | undefined; base: () => string; status: number; code: string }[] = [
    { name: "no admin key configured → 404 as if absent", key: ADMIN_KEY, base: () => disabled.url, status: 404, code: "not_found" },
    { name: "missing key → 401", key: undefined, base: () => gateway.url, status: 401, code: "unauthorized" },
    { name: "wrong key → 401", key: "admin-key-0002", base: () => gateway.url, status: 401, code: "unauthorized" },
  ];
  test.each(cases)("$name", async ({ key, base, status, code }) => {
    const response = await fetch(`${base()}/admin/pools`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test("the admin API is in the OpenAPI spec", async () => {
    const spec = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ["/admin/pools", "/admin/pools/{pool}/workers", "/admin/pools/{pool}/workers/drain", "/admin/pools/{pool}/workers/undrain", "/admin/reload"]) {
      expect(spec.paths[path]).toBeDefined();
    }
  });
});

describe("admin actions", () => {
  test("GET /admin/pools: every worker with state, reason, in-flight and recent stats", async () => {
    await answeringWorkers(4);
    const [heavy] = await pools();
    expect(heavy?.name).toBe("heavy");
    expect(heavy?.workers.map((w) => [w.url, w.state, w.inFlight])).toEqual([
      [url(0), "healthy", 0],
      [url(1), "healthy", 0],
    ]);
    expect(heavy?.workers.every((w) => w.samples >= 1 && w.errorRate === 0 && w.reason.length > 0)).toBe(true);
    const deadlineMs = Date.now() + 20_000;
    let scraped = false;
    while (!scraped && Date.now() < deadlineMs) {
      scraped = (await pools())[0]?.workers.every((w) => typeof w.load?.running === "number") ?? false;
      if (!scraped) await Bun.sleep(100);
    }
    expect(scraped).toBe(true);
  });

  test("drain: no new requests reach the worker; undrain: they do again; both are events with the actor", async () => {
    const target = url(0);
    events.length = 0;
    expect((await admin("POST", "/admin/pools/heavy/workers/drain", { url: target })).status).toBe(200);
    const view = (await pools())[0]?.workers.find((w) => w.url === target);
    expect([view?.state, view?.drainedBy]).toEqual(["drained", "admin"]);
    expect(await answeringWorkers(6)).toEqual(new Set([url(1)]));
    expect((await admin("POST", "/admin/pools/heavy/workers/undrain", { url: `${target}/` })).status).toBe(200);
    expect((await answeringWorkers(6)).has(target)).toBe(true);
    expect(operatorEvents()).toEqual([
      ["drained", target, "admin"],
      ["undrained", target, "admin"],
    ]);
  });

  test("add and remove a worker at run time", async () => {
    const extra = url(2);
    expect((await admin("POST", "/admin/pools/heavy/workers", { url: extra })).status).toBe(200);
    expect((await admin("POST", "/admin/pools/heavy/workers", { url: extra })).status).toBe(400);
    expect((await answeringWorkers(9)).has(extra)).toBe(true);
    expect((await admin("DELETE", `/admin/pools/heavy/workers?url=${encodeURIComponent(extra)}`)).status).toBe(200);
    expect((await pools())[0]?.workers.map((w) => w.url)).not.toContain(extra);
    expect((await answeringWorkers(6)).has(extra)).toBe(false);
    expect(operatorEvents().slice(-2)).toEqual([
      ["added", extra, "admin"],
      ["removed", extra, "admin"],
    ]);
  });

  const invalid: { name: string; method: string; path: string; body?: unknown; status: number; code: string }[] = [
    { name: "unknown pool", method: "POST", path: "/admin/pools/tiny/workers/drain", body: { url: "http://127.0.0.1:9" }, status: 404, code: "not_found" },
    { name: "unknown worker", method: "POST", path: "/admin/pools/heavy/workers/drain", body: { url: "http://127.0.0.1:9" }, status: 404, code: "not_found" },
    { name: "not a URL", method: "POST", path: "/admin/pools/heavy/workers", body: { url: "heavy-9" }, status: 400, code: "invalid_request" },
    { name: "no body", method: "POST", path: "/admin/pools/heavy/workers/undrain", status: 400, code: "invalid_request" },
    { name: "remove without url", method: "DELETE", path: "/admin/pools/heavy/workers", status: 400, code: "invalid_request" },
    { name: "unknown admin route", method: "GET", path: "/admin/nothing", status: 404, code: "not_found" },
  ];
  test.each(invalid)("rejects $name with $status $code", async ({ method, path, body, status, code }) => {
    const response = await admin(method, path, body);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test("reload: a valid file is swapped in; an invalid one is rejected and the old config stays", async () => {
    writeConfig({ heavy: { workers: [url(0), url(1)] }, light: { workers: [url(2)], upstreamModel: "heavy" } });
    events.length = 0;
    const reloaded = await admin("POST", "/admin/reload");
    expect(reloaded.status).toBe(200);
    expect(((await reloaded.json()) as { pools: string[] }).pools).toEqual(["heavy", "light"]);
    const reloadEvents = events.filter((e) => ["added", "removed", "reloaded"].includes(e.state));
    expect(reloadEvents.map((e) => [e.pool, e.worker, e.state, e.actor])).toEqual([
      ["light", url(2), "added", "admin"],
      ["*", "*", "reloaded", "admin"],
    ]);
    expect(await answeringWorkers(2, "light")).toEqual(new Set([url(2)]));
    const before = gateway.config();
    for (const broken of ['{"pools": {"heavy": {"workers": ["not a url"]}}}', "{not json", '{"pools": {}}']) {
      writeFileSync(configPath, broken);
      const response = await admin("POST", "/admin/reload");
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).toContain("the running config stays");
      expect(gateway.config()).toBe(before);
    }
    expect(await answeringWorkers(2, "light")).toEqual(new Set([url(2)]));
  });
});
