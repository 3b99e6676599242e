import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pollValue } from "../src/testing/poll.ts";
import type { Comparison } from "../src/experiments/variant-compare.ts";
import { type ComposeFile, type Env, loadCompose, mergeCompose, readEnvFile, REPO_ROOT } from "./compose-model.ts";
import { LocalStack } from "./local-stack.ts";
import { type Sent, steadyLoad } from "../src/testing/steady-load.ts";

/**
 * docs/runbook.md §7's two procedures on compose.cpu.yaml run as processes (deploy/local-stack.ts), with
 * the admin and HTTP calls the runbook lists, under a steady load of streams and non-stream requests:
 * (2) swap the heavy pool's model one worker at a time, then (1) A/B a candidate on heavy-1 with
 * compose.cpu.ab.yaml, widen, roll back and end it. A compose service change is a process restart here.
 */

const ADMIN_KEY = "runbook-admin-key-1";
const NEW_HEAVY_MODEL = "Qwen/Qwen2.5-14B-Instruct-AWQ-r2";
const CANDIDATE = "Qwen/Qwen3-14B-AWQ";
// Speed 4: TTFTs of a few ms (speed 20) make the guard's TTFT p95 ratio noise, and it pulled heavy-b
// mid-phase; here heavy-b stays under the guard's minSamples, which variant-guard.test.ts covers.
const env: Env = { ...readEnvFile(".env.example"), EMULATOR_SPEED: "4", ADMIN_API_KEY: ADMIN_KEY };
const HEAVY = ["heavy-0", "heavy-1"];
let stack: LocalStack;

beforeAll(async () => {
  stack = await LocalStack.start(loadCompose("compose.cpu.yaml", env));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(stack.gatewayUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response;
}

interface WorkerView {
  url: string;
  state: string;
  inFlight: number;
  lastProbe?: { at: string; ok: boolean };
}

async function workerView(pool: string, url: string): Promise<WorkerView | undefined> {
  const response = await admin("GET", "/admin/pools");
  const body = (await response.json()) as { pools: { name: string; workers: WorkerView[] }[] };
  return body.pools.find((p) => p.name === pool)?.workers.find((w) => w.url === url);
}

/** Runbook: drain, wait for `inFlight` 0 in GET /admin/pools. */
async function drain(pool: string, url: string): Promise<void> {
  await admin("POST", `/admin/pools/${pool}/workers/drain`, { url });
  await pollValue(() => workerView(pool, url), (view) => view?.inFlight === 0, 30_000);
}

/** Runbook: GET /admin/pools shows a passing probe made after the restart. */
async function probedSince(pool: string, url: string, sinceMs: number): Promise<void> {
  const passed = (view: WorkerView | undefined) =>
    view?.lastProbe?.ok === true && Date.parse(view.lastProbe.at) > sinceMs;
  expect(passed(await pollValue(() => workerView(pool, url), passed, 20_000))).toBe(true);
}

const workerInfo = async (model: string) =>
  (await (await fetch(`${stack.gatewayUrl}/metrics`)).text())
    .split("\n")
    .filter((line) => line.startsWith("ringgate_worker_info{") && line.includes(`model="${model}"`));

/**
 * What the gateway had to cover for: attempts that did not end ok, ejections. The gateway's failover and
 * stream continuation hide a worker killed mid-request from clients, so "0 failed" alone would not show a
 * skipped drain; a procedure done right gives the gateway nothing to cover.
 */
async function coveredFailures(): Promise<string[]> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  return text.split("\n").filter((line) => {
    const covered = line.startsWith("ringgate_upstream_attempts_total{") && !line.includes('result="ok"');
    return (covered || line.startsWith("ringgate_worker_ejections_total{")) && !line.endsWith(" 0");
  });
}

const inPhase = (sent: Sent[], phase: string) => sent.filter((s) => s.phase === phase);
const poolsOf = (sent: Sent[]) => new Set(sent.map((s) => s.pool));

describe("docs/runbook.md §7 on the CPU stack", () => {
  test("(2) swap the heavy pool's model one worker at a time: 0 failed requests, a drained worker gets 0", async () => {
    const swapped = loadCompose("compose.cpu.yaml", { ...env, HEAVY_MODEL: NEW_HEAVY_MODEL });
    let phase = "before";
    const load = steadyLoad(stack.gatewayUrl, () => phase);
    await Bun.sleep(500);
    for (const name of HEAVY) {
      const url = stack.local(`http://${name}:8000`);
      phase = `draining ${name}`;
      await drain("heavy", url);
      // docker-compose -f compose.cpu.yaml up -d --no-deps <name>, with HEAVY_MODEL changed in .env.
      phase = `swapping ${name}`;
      const restartedMs = Date.now();
      await stack.replaceWorker(name, swapped.services[name]?.command ?? []);
      await probedSince("heavy", url, restartedMs);
      phase = `undraining ${name}`;
      await admin("POST", "/admin/pools/heavy/workers/undrain", { url });
      phase = `swapped ${name}`;
      await pollValue(async () => (await workerInfo(NEW_HEAVY_MODEL)).join(), (lines) => lines.includes(url), 15_000);
      await Bun.sleep(1_000);
    }
    const sent = await load.stop();
    expect(sent.filter((s) => !s.ok)).toEqual([]);
    expect(sent.filter((s) => s.retried > 0)).toEqual([]);
    expect(await coveredFailures()).toEqual([]);
    for (const name of HEAVY) {
      const url = stack.local(`http://${name}:8000`);
      const whileOut = inPhase(sent, `swapping ${name}`);
      expect(whileOut.length).toBeGreaterThan(3);
      expect(whileOut.filter((s) => s.worker === url)).toEqual([]);
      expect(inPhase(sent, `swapped ${HEAVY.at(-1)}`).some((s) => s.worker === url)).toBe(true);
    }
    expect((await workerInfo(NEW_HEAVY_MODEL)).length).toBe(2);
  }, 120_000);

  test("(1) A/B a candidate on heavy-1: guarded 90/10, stats --compare, widen, roll back, end; 0 failed", async () => {
    const base = loadCompose("compose.cpu.yaml", { ...env, HEAVY_MODEL: NEW_HEAVY_MODEL });
    const ab: ComposeFile = mergeCompose(base, loadCompose("compose.cpu.ab.yaml", env));
    let phase = "before";
    const load = steadyLoad(stack.gatewayUrl, () => phase, { sessions: 12 });
    await Bun.sleep(500);
    phase = "draining heavy-1";
    await drain("heavy", stack.local("http://heavy-1:8000"));
    // docker-compose -f compose.cpu.yaml -f compose.cpu.ab.yaml up -d --no-deps heavy-1 gateway
    phase = "recreating";
    await stack.replaceWorker("heavy-1", ab.services["heavy-1"]?.command ?? []);
    expect(await coveredFailures()).toEqual([]);
    await stack.recreateGateway(ab);
    const recreatedMs = Date.now();
    await probedSince("heavy-a", stack.local("http://heavy-0:8000"), recreatedMs);
    await probedSince("heavy-b", stack.local("http://heavy-1:8000"), recreatedMs);
    phase = "90/10";
    await Bun.sleep(4_000);

    const stats = Bun.spawn(["bun", "run", "stats", "--", "--compare", "heavy", "--window", "5m", "--json"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, REDIS_URL: stack.local("redis://redis:6379") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [statsOut, statsCode] = await Promise.all([new Response(stats.stdout).text(), stats.exited]);
    expect(statsCode).toBe(0);

    // A request sent while a PUT is on its way may see either split: tagged as neither phase.
    phase = "changing";
    await admin("PUT", "/admin/models/heavy/weights", { weights: { "heavy-a": 50, "heavy-b": 50 } });
    phase = "50/50";
    await Bun.sleep(2_000);
    phase = "changing";
    await admin("PUT", "/admin/models/heavy/weights", { weights: { "heavy-b": 0 } });
    phase = "rolled back";
    await Bun.sleep(1_500);
    const events = ((await (await admin("GET", "/dashboard/data")).json()) as { events: { actor?: string }[] }).events;
    expect(events.filter((event) => event.actor === "guard")).toEqual([]);

    // End the experiment: drain heavy-1 in heavy-b, `docker-compose up -d --no-deps heavy-1 gateway`.
    phase = "ending";
    await drain("heavy-b", stack.local("http://heavy-1:8000"));
    await stack.replaceWorker("heavy-1", base.services["heavy-1"]?.command ?? []);
    expect(await coveredFailures()).toEqual([]);
    await stack.recreateGateway(base);
    const endedMs = Date.now();
    for (const name of HEAVY) await probedSince("heavy", stack.local(`http://${name}:8000`), endedMs);
    phase = "ended";
    await Bun.sleep(1_000);
    const sent = await load.stop();

    expect(sent.filter((s) => !s.ok)).toEqual([]);
    // Only while the gateway restarted: refused connections, retried by the client as the openai SDK does.
    expect(sent.filter((s) => s.retried > 0 && !["recreating", "ending"].includes(s.phase))).toEqual([]);
    expect(inPhase(sent, "draining heavy-1").length).toBeGreaterThan(0);
    expect(await coveredFailures()).toEqual([]);
    const ended = inPhase(sent, "ended");
    expect(poolsOf(ended)).toEqual(new Set(["heavy"]));
    expect(new Set(ended.map((s) => s.worker)).size).toBe(2);

    const split = inPhase(sent, "90/10");
    const share = split.filter((s) => s.pool === "heavy-b").length / split.length;
    expect([share > 0, share < 0.5]).toEqual([true, true]);
    const widened = inPhase(sent, "50/50");
    expect(poolsOf(widened)).toEqual(new Set(["heavy-a", "heavy-b"]));
    expect(poolsOf(inPhase(sent, "rolled back"))).toEqual(new Set(["heavy-a"]));
    // While weights stay, a session never changes variant.
    for (const phaseName of ["90/10", "50/50", "rolled back"]) {
      const bySession = new Map<string, Set<string>>();
      for (const s of inPhase(sent, phaseName)) {
        bySession.set(s.session, (bySession.get(s.session) ?? new Set()).add(s.pool));
      }
      expect([...bySession].filter(([, pools]) => pools.size > 1), phaseName).toEqual([]);
    }

    const report = JSON.parse(statsOut) as Comparison;
    const rows = new Map(report.variants.map((row) => [row.pool, row]));
    expect(rows.get("heavy-a")?.workerModels).toEqual([NEW_HEAVY_MODEL]);
    expect(rows.get("heavy-b")?.workerModels).toEqual([CANDIDATE]);
    expect(rows.get("heavy-b")?.errors).toBe(0);
    expect(report.verdicts.length).toBeGreaterThan(0);
  }, 120_000);
});
