import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DashboardData } from "../src/dashboard/dashboard-data.ts";
import { dashboardFeature } from "../src/dashboard/dashboard-feature.ts";
import { experimentsFeature } from "../src/experiments/experiments-feature.ts";
import { feedbackFeature } from "../src/experiments/feedback-feature.ts";
import { metricsFeature } from "../src/metrics/metrics-feature.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../src/testing/emulated-gateway.ts";
import { pollValue } from "../src/testing/poll.ts";

const ADMIN_KEY = "dashboard-admin-key";
const chat = { model: "light", messages: [{ role: "user", content: "hi" }], max_tokens: 4 };

describe("GET /dashboard with an admin key set", () => {
  let harness: EmulatedGateway;
  let url: string;
  const data = async (): Promise<DashboardData> => {
    const response = await fetch(`${url}/dashboard/data`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as DashboardData;
  };

  beforeAll(async () => {
    harness = await startEmulatedGateway({
      pools: { heavy: 1, light: 2 },
      features: [metricsFeature(), feedbackFeature(), experimentsFeature(), dashboardFeature()],
      config: {
        auth: { adminApiKey: ADMIN_KEY },
        models: {
          chat: {
            variants: [
              { pool: "heavy", weight: 1 },
              { pool: "light", weight: 3, guard: { maxErrorRateDelta: 0.1 } },
            ],
          },
        },
      },
    });
    url = harness.fixture.url;
  });
  afterAll(() => harness.stop());

  test.each([
    ["/dashboard", {}],
    ["/dashboard?key=wrong-key", {}],
    ["/dashboard/data", {}],
    ["/dashboard/data", { authorization: "Bearer wrong-key" }],
  ])("%s %o is refused with 401", async (path, headers) => {
    const response = await fetch(url + path, { headers });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  test("the page opens with the key in the link and loads nothing from elsewhere", async () => {
    const response = await fetch(`${url}/dashboard?key=${ADMIN_KEY}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await response.text();
    expect(html).toContain("/dashboard/data");
    expect(html).not.toMatch(/\b(?:src|href)="/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  test("the data lists every pool and worker with its state, and the models with their variants", async () => {
    const snapshot = await data();
    expect(snapshot.pools.map((pool) => [pool.name, pool.workers.length])).toEqual([
      ["heavy", 1],
      ["light", 2],
    ]);
    for (const worker of snapshot.pools.flatMap((pool) => pool.workers)) expect(worker.state).toBe("healthy");
    expect(snapshot.models).toEqual([
      {
        name: "chat",
        kind: "variants",
        variants: [
          { pool: "heavy", weight: 1, configuredWeight: 1, observedShare: null, guard: "none" },
          { pool: "light", weight: 3, configuredWeight: 3, observedShare: null, guard: "watching" },
        ],
      },
    ]);
  });

  test("each worker shows the model it actually serves (the root of its /v1/models)", async () => {
    const root = async (worker: string) => {
      const models = (await (await fetch(`${worker}/v1/models`)).json()) as { data: { root: string }[] };
      return models.data[0]?.root;
    };
    const shown = async () =>
      (await data()).pools.flatMap((pool) => pool.workers.map((worker) => [worker.url, worker.model]));
    const expected = await Promise.all(harness.emulators.map(async ({ url: worker }) => [worker, await root(worker)]));
    expect(expected.every(([, model]) => typeof model === "string" && model.length > 0)).toBe(true);
    const rows = await pollValue(shown, (value) => value.every(([, model]) => model !== undefined), 5_000);
    expect(rows.sort()).toEqual(expected.sort());
  });

  test("runtime weights and a tripped guard show on the variant", async () => {
    const weights = harness.services.variantWeights;
    weights?.set("chat", { heavy: 5 }, "admin", "more heavy");
    weights?.set("chat", { light: 0 }, "guard", "error rate 30 % over baseline");
    const variants = (await data()).models[0]?.variants;
    expect(variants?.map(({ pool, weight, guard, setBy }) => ({ pool, weight, guard, setBy }))).toEqual([
      { pool: "heavy", weight: 5, guard: "none", setBy: "guard" },
      { pool: "light", weight: 0, guard: "tripped", setBy: "guard" },
    ]);
    expect(variants?.[1]?.reason).toBe("error rate 30 % over baseline");
    weights?.set("chat", { heavy: 1, light: 3 }, "admin", "restored");
  });

  test("finished requests show in the series of their pool and of all traffic", async () => {
    for (let index = 0; index < 3; index++) {
      expect((await harness.fixture.post("/v1/chat/completions", chat)).status).toBe(200);
    }
    const snapshot = await data();
    const requests = (pool: string) => (snapshot.series[pool] ?? []).reduce((sum, point) => sum + point.requests, 0);
    expect(requests("*")).toBe(3);
    expect(requests("light")).toBe(3);
    expect(requests("heavy")).toBe(0);
    expect(snapshot.series.light?.some((point) => point.latencyP50Ms !== null)).toBe(true);
    expect(snapshot.totals).toMatchObject({ requests: 3, errors: 0, inFlight: 0 });
    expect(snapshot.models[0]?.variants?.map((variant) => variant.observedShare)).toEqual([null, null]);
  });

  test("a variant's observed share counts only its model's requests, by the pool that answered", async () => {
    const answeredBy: string[] = [];
    for (let index = 0; index < 4; index++) {
      const headers = { "x-session-id": `s${index}` };
      const response = await harness.fixture.post("/v1/chat/completions", { ...chat, model: "chat" }, headers);
      answeredBy.push(response.headers.get("x-ringgate-pool") ?? "");
      await response.text();
    }
    const share = (pool: string) => answeredBy.filter((name) => name === pool).length / answeredBy.length;
    const variants = (await data()).models[0]?.variants;
    expect(variants?.map((variant) => variant.observedShare)).toEqual([share("heavy"), share("light")]);
  });

  test("a worker state change shows in the events, newest first", async () => {
    const worker = harness.emulators[1]?.url ?? "";
    harness.services.health?.drain("light", worker, "test");
    const snapshot = await data();
    expect(snapshot.events[0]).toMatchObject({ pool: "light", worker, state: "drained" });
    expect(snapshot.pools[1]?.workers.find((w) => w.url === worker)?.state).toBe("drained");
  });
});

describe("GET /dashboard without an admin key", () => {
  let harness: EmulatedGateway;
  beforeAll(async () => {
    harness = await startEmulatedGateway({ pools: { light: 1 }, features: [dashboardFeature()] });
  });
  afterAll(() => harness.stop());

  test("is open, like the rest of a gateway without admin", async () => {
    expect((await fetch(`${harness.fixture.url}/dashboard`)).status).toBe(200);
    expect((await fetch(`${harness.fixture.url}/dashboard/data`)).status).toBe(200);
  });
});
