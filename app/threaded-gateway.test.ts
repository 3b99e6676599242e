import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EmulatorHandle, startEmulator } from "../workers/emulator/server.ts";
import { parseConfig } from "../src/config/load.ts";
import type { ConfigInput } from "../src/config/schema.ts";
import { defaultFeatures } from "../src/features.ts";
import type { GatewayFeature } from "../src/gateway.ts";
import { KeepAliveConnection } from "../src/testing/keep-alive-client.ts";
import { waitFor } from "../src/testing/poll.ts";
import { type GatewayHandle, startGateway } from "./gateway-app.ts";
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

function options(config: ConfigInput, extra: GatewayFeature[] = []) {
  const parsed = parseConfig({ ...config, auth: { adminApiKey: ADMIN_KEY, ...config.auth } });
  return { config: parsed, port: 0, hostname: "127.0.0.1", features: [...defaultFeatures(), ...extra] };
}

function threaded(config: ConfigInput, extra: GatewayFeature[] = []): Promise<ThreadedGateway> {
  return startThreadedGateway({ ...options(config, extra), threads: THREADS });
}

const fourWorkers = (): ConfigInput => ({ pools: { heavy: { workers: emulators.map((emulator) => emulator.url) } } });

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
    const gateway = await threaded(fourWorkers());
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

describe(`THREADS=${THREADS}: admission`, () => {
  let slow: EmulatorHandle;
  beforeAll(async () => {
    slow = await startEmulator({ host: "127.0.0.1", port: 0, profile: "heavy", ttftMs: 1_500, itlMs: 5 });
  });
  afterAll(() => slow.stop());

  test("the pool's in-flight cap is exact: 24 requests at once against maxInFlight 3 admit exactly 3", async () => {
    const gateway = await threaded({
      pools: { heavy: { workers: [slow.url], maxInFlight: 3, admissionWaitMs: 0 } },
    });
    try {
      const statuses = await Promise.all(Array.from({ length: 24 }, async () => (await chat(gateway.url)).status));
      expect(statuses.filter((status) => status === 200)).toHaveLength(3);
      expect(statuses.filter((status) => status === 429)).toHaveLength(21);
      expect(gateway.pools.get("heavy")?.state.poolInFlight).toBe(0);
    } finally {
      await gateway.stop(1_000);
    }
  }, 60_000);

  test("a request waiting for a place is woken by one leaving on another thread, not at its wait's end", async () => {
    const waitMs = 30_000;
    const pool = { workers: [slow.url], maxInFlight: 1, admissionWaitMs: waitMs };
    const gateway = await threaded({ pools: { heavy: pool } });
    try {
      const startedMs = performance.now();
      const statuses = await Promise.all(Array.from({ length: 4 }, async () => (await chat(gateway.url)).status));
      expect(statuses).toEqual([200, 200, 200, 200]);
      // One at a time, each ~1.5 s: every waiter got its place when the one before left, wherever it ran.
      expect(performance.now() - startedMs).toBeLessThan(waitMs);
    } finally {
      await gateway.stop(1_000);
    }
  }, 60_000);
});

describe(`THREADS=${THREADS}: client keys`, () => {
  test("per-key requests and tokens per minute are exact over the threads", async () => {
    const keys = [
      { name: "five-per-minute", key: "rpm-key-threads", requestsPerMinute: 5 },
      // Each answer is 2 completion tokens plus the prompt's: the budget lasts for a few requests only.
      { name: "few-tokens", key: "tpm-key-threads", tokensPerMinute: 25 },
    ];
    let finished = 0;
    const counting: GatewayFeature = { name: "count", setup: (context) => context.onFinish(() => finished++) };
    const gateway = await threaded({ ...fourWorkers(), auth: { keys } }, [counting]);
    const as = (key: string) => () =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}`, connection: "close" },
        body: JSON.stringify(CHAT),
        keepalive: false,
      }).then((response) => response.status);
    try {
      const rpm = await Promise.all(Array.from({ length: 16 }, as("rpm-key-threads")));
      expect(rpm.filter((status) => status === 200)).toHaveLength(5);
      expect(rpm.filter((status) => status === 429)).toHaveLength(11);
      await waitFor(() => finished === 16, 5_000, "16 records at the owner");
      // One request at a time: each is charged (on the owner, from the thread's record) before the next.
      const tpm: number[] = [];
      for (let i = 1; i <= 8; i++) {
        tpm.push(await as("tpm-key-threads")());
        await waitFor(() => finished === 16 + i, 5_000, "the record, charged at the owner");
      }
      expect(tpm).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    } finally {
      await gateway.stop(1_000);
    }
  }, 60_000);
});

test(`THREADS=${THREADS}: runtime variant weights set through /admin route every thread's next requests`, async () => {
  const [a, b] = emulators;
  const gateway = await threaded({
    pools: {
      "split-a": { workers: [a?.url ?? ""], upstreamModel: "heavy" },
      "split-b": { workers: [b?.url ?? ""], upstreamModel: "heavy" },
    },
    models: { split: { variants: [{ pool: "split-a", weight: 1 }, { pool: "split-b", weight: 0 }] } },
  });
  const servedBy = async () => {
    const before = served();
    const answers = Array.from({ length: 24 }, () => chat(gateway.url, { ...CHAT, model: "split" }));
    const statuses = (await Promise.all(answers)).map((answer) => answer.status);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    return served().map((count, i) => count - (before[i] ?? 0));
  };
  try {
    expect(await servedBy()).toEqual([24, 0, 0, 0]);
    const response = await fetch(`${gateway.url}/admin/models/split/weights`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ weights: { "split-a": 0, "split-b": 1 } }),
    });
    expect(response.status).toBe(200);
    // The owner pushes the change as it happens; a request may still be on its way to a thread.
    await waitFor(async () => (await servedBy())[0] === 0, 5_000, "every thread on the new split", 20);
    expect(await servedBy()).toEqual([0, 24, 0, 0]);
  } finally {
    await gateway.stop(1_000);
  }
}, 60_000);

test(`THREADS=${THREADS}: session affinity is the same on every thread: a session keeps its worker`, async () => {
  const gateway = await threaded({ pools: { heavy: { ...fourWorkers().pools?.heavy, affinity: "session" } } });
  try {
    const sessions = Array.from({ length: 8 }, (_, i) => `npc-${i}`);
    const workerOf = async (session: string) =>
      (await chat(gateway.url, { ...CHAT, user: session })).headers.get("x-ringgate-worker") ?? "";
    // One request at a time: concurrent ones may spill by design (bounded load), which is not the point here.
    const seen = sessions.map(() => new Set<string>());
    for (let round = 0; round < 6; round++) {
      for (const [i, session] of sessions.entries()) seen[i]?.add(await workerOf(session));
    }
    expect(seen.map((workers) => workers.size)).toEqual(sessions.map(() => 1));
    expect(new Set(seen.flatMap((workers) => [...workers])).size).toBeGreaterThan(1);
  } finally {
    await gateway.stop(1_000);
  }
}, 60_000);

/** The counters of /metrics (time-free series only), sorted, so two runs of the same traffic compare. */
async function counters(gateway: GatewayHandle): Promise<string[]> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const names = ["requests", "request_errors", "tokens", "upstream_attempts", "model_requests"];
  const counted = new RegExp(`^ringgate_(${names.join("|")})_total\\{`);
  return text.split("\n").filter((line) => counted.test(line)).sort();
}

async function poolsView(gateway: GatewayHandle): Promise<unknown> {
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  type Worker = { url: string; state: string; inFlight: number; samples: number };
  const pools = (await (await fetch(`${gateway.url}/admin/pools`, { headers })).json()) as {
    pools: { name: string; inFlight: number; workers: Worker[] }[];
  };
  return pools.pools.map((pool) => ({
    name: pool.name,
    inFlight: pool.inFlight,
    workers: pool.workers.map(({ url, state, inFlight, samples }) => ({ url, state, inFlight, samples })),
  }));
}

/** 40 answered requests, one unknown model and one invalid body; resolves once the owner has all 42 records. */
async function sameTraffic(gateway: GatewayHandle): Promise<void> {
  await waitFor(async () => (await fetch(`${gateway.url}/ready`)).status === 200, 10_000, "the first probe round");
  const statuses = await Promise.all(Array.from({ length: 40 }, async () => (await chat(gateway.url)).status));
  expect(statuses.filter((status) => status !== 200)).toEqual([]);
  expect((await chat(gateway.url, { ...CHAT, model: "nope" })).status).toBe(404);
  expect((await chat(gateway.url, { model: "heavy" })).status).toBe(400);
  const total = async () =>
    (await counters(gateway))
      .filter((line) => line.startsWith("ringgate_requests_total"))
      .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
  await waitFor(async () => (await total()) === 42, 5_000, "42 records at the owner", 20);
}

test(`/metrics and /admin/pools say the same after the same traffic with 1 and ${THREADS} threads`, async () => {
  const single = await startGateway(options(fourWorkers()));
  let one: [string[], unknown];
  try {
    await sameTraffic(single);
    one = [await counters(single), await poolsView(single)];
  } finally {
    await single.stop(1_000);
  }
  const gateway = await threaded(fourWorkers());
  try {
    await sameTraffic(gateway);
    expect([await counters(gateway), await poolsView(gateway)]).toEqual(one);
  } finally {
    await gateway.stop(1_000);
  }
}, 60_000);

test("a killed thread is replaced while traffic goes on, and no request on another thread fails", async () => {
  const gateway = await threaded(fourWorkers());
  try {
    const connections = await Promise.all(Array.from({ length: 16 }, () => KeepAliveConnection.open(gateway.port)));
    const threadOf = async (connection: KeepAliveConnection) =>
      (await connection.request("GET", "/health")).headers.get("x-ringgate-thread") ?? "0";
    const threads = await Promise.all(connections.map(threadOf));
    const victim = threads.find((thread) => thread !== "0");
    if (victim === undefined) throw new Error(`no connection landed on a serving thread: ${threads.join(",")}`);
    const failures = new Map<string, number>();
    let killed = false;
    const traffic = connections.map(async (connection, i) => {
      for (let n = 0; n < 20; n++) {
        if (n === 5 && i === 0 && !killed) {
          killed = true;
          gateway.threads.terminate(Number(victim));
        }
        const status = await connection.request("POST", "/v1/chat/completions", CHAT).then(
          (answer) => answer.status,
          () => 0,
        );
        if (status !== 200) failures.set(`${threads[i]}:${status}:${n}`, 1);
        if (status === 0) return;
      }
    });
    await Promise.all(traffic);
    for (const connection of connections) connection.close();
    const onVictim = (failure: string) => failure.startsWith(`${victim}:`);
    // The kill landed mid-traffic (its connections broke), and broke nothing elsewhere.
    expect([...failures.keys()].some(onVictim)).toBe(true);
    expect([...failures.keys()].filter((failure) => !onVictim(failure))).toEqual([]);
    const replaced = () => gateway.threads.restarts === 1 && gateway.threads.isListening(Number(victim));
    await waitFor(replaced, 10_000, "a new thread");
    // The replacement serves: fresh connections reach it.
    await waitFor(async () => {
      const connection = await KeepAliveConnection.open(gateway.port);
      const reached = (await threadOf(connection)) === victim;
      connection.close();
      return reached;
    }, 10_000, `a connection on thread ${victim}`);
  } finally {
    await gateway.stop(1_000);
  }
}, 60_000);
