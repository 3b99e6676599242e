import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { metricsFeature } from "../../src/metrics/metrics-feature.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../../src/testing/emulated-gateway.ts";
import { untilFaultMet } from "../../src/testing/fault-met.ts";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import { dashboardExprs, exposedSeries, jobNames, readDashboard, seriesNames } from "./dashboard-model.ts";

/** The Grafana dashboard's gateway queries against a real gateway's /metrics, no Prometheus needed. */

const GATEWAY_JOB = "ringgate-gateway";
const MAX_VARIANT_REQUESTS = 40;

/** Series with at least one sample, and their label sets, from a Prometheus text exposition. */
function samples(exposition: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of exposition.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s/.exec(line);
    if (!sample?.[1]) continue;
    found.set(sample[1], [...(found.get(sample[1]) ?? []), sample[2] ?? ""]);
  }
  return found;
}

describe("the Grafana dashboard's gateway series", () => {
  let harness: EmulatedGateway;
  let exposition: string;

  beforeAll(async () => {
    harness = await startEmulatedGateway({
      pools: { heavy: 1, light: 1 },
      features: [metricsFeature()],
      config: {
        models: {
          npc: { variants: [{ pool: "heavy", weight: 50 }, { pool: "light", weight: 50 }] },
          fast: { prefer: ["light", "heavy"], ttftBudgetMs: 5_000 },
        },
      },
    });
    const chat = async (model: string, session: string, stream = false) => {
      const body = { model, stream, messages: [{ role: "user", content: "hi" }] };
      const response = await harness.fixture.post("/v1/chat/completions", body, { "x-session-id": session });
      await response.text();
      return response.headers.get("x-ringgate-pool");
    };
    const seen = new Set<string | null>();
    for (let index = 0; index < MAX_VARIANT_REQUESTS && seen.size < 2; index++) {
      seen.add(await chat("npc", `player-${index}`));
    }
    await chat("fast", "tier", true);
    exposition = await (await fetch(`${harness.fixture.url}/metrics`)).text();
  });
  afterAll(() => harness.stop());

  test("histogram quantiles read `_bucket` series (a bare histogram name selects nothing)", () => {
    const quantiles = dashboardExprs().filter((expr) => expr.includes("histogram_quantile"));
    expect(quantiles.length).toBeGreaterThan(0);
    for (const expr of quantiles) for (const series of seriesNames(expr)) expect(series, expr).toEndWith("_bucket");
  });

  test("every series a gateway panel queries is one the gateway exposes", () => {
    const exposed = exposedSeries(exposition);
    const queried = dashboardExprs().filter((expr) => jobNames(expr).includes(GATEWAY_JOB)).flatMap(seriesNames);
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((series) => !exposed.has(series))).toEqual([]);
  });

  test("the models row has panels for routing, variants and tiers", () => {
    const titles = readDashboard().panels.map((panel) => panel.title);
    expect(titles).toContain("Models, variants and routing");
    const exprs = dashboardExprs().join("\n");
    const routing = [
      "ringgate_model_requests_total",
      "ringgate_ttft_prediction_error_seconds_bucket",
      "ringgate_fallbacks_total",
    ];
    for (const series of routing) expect(exprs).toContain(series);
  });

  test("traffic through a variants model and a tier gives the models panels data for each pool", () => {
    const byModel = samples(exposition).get("ringgate_model_requests_total") ?? [];
    for (const pool of ["heavy", "light"]) {
      expect(byModel.some((labels) => labels.includes('model="npc"') && labels.includes(`pool="${pool}"`))).toBe(true);
    }
    expect(byModel.some((labels) => labels.includes('model="fast"'))).toBe(true);
    expect(samples(exposition).get("ringgate_ttft_prediction_error_seconds_bucket")?.length ?? 0).toBeGreaterThan(0);
  });
});

describe("the continuations and hedges panels", () => {
  const PANELS = [
    { title: "Stream continuations/s by result", series: "ringgate_stream_continuations_total" },
    { title: "Hedges/s by result", series: "ringgate_hedges_total" },
  ];
  let harness: EmulatedGateway;

  beforeAll(async () => {
    // A pool each: a worker whose stream broke may be out of its pool for a while.
    const hedge = { enabled: true, afterQuantile: 0.95, minSamples: 4 };
    const pools = { cut: 2, hedged: 2 };
    harness = await startEmulatedGateway({ pools, pool: { hedge }, features: [metricsFeature()] });
  });
  afterAll(() => harness.stop());

  test("each panel counts by pool and result from the counter the gateway exposes", () => {
    const panels = readDashboard().panels;
    for (const { title, series } of PANELS) {
      const exprs = panels.find((panel) => panel.title === title)?.targets?.map((target) => target.expr) ?? [];
      expect(exprs, title).toEqual([`sum by (pool, result) (rate(${series}{job="${GATEWAY_JOB}"}[5m]))`]);
    }
  });

  test("a continued stream and a hedged request give them data, labelled with how each went", async () => {
    // Emulators in pool order: cut's two, then hedged's two; the first of each is armed.
    const [broken, , slowed] = harness.emulators as [EmulatorHandle, EmulatorHandle, EmulatorHandle];
    const messages = [{ role: "user", content: "hi" }];
    await untilFaultMet(harness, {
      armed: broken,
      fault: "cut-after:3",
      body: { model: "cut", stream: true, messages },
      met: (record) => record.continuations !== undefined,
    });
    const body = { model: "hedged", messages, max_tokens: 8 };
    // The pool's latency window learns the usual answer time for 8-token answers before it hedges.
    for (let index = 0; index < 6; index++) await (await harness.fixture.post("/v1/chat/completions", body)).text();
    await untilFaultMet(harness, {
      armed: slowed,
      fault: "slow-first-token:5000",
      body,
      met: (record) => record.attempts.some((attempt) => attempt.worker === slowed.url),
    });
    const found = samples(await (await fetch(`${harness.fixture.url}/metrics`)).text());
    expect(found.get("ringgate_stream_continuations_total")).toContain('{pool="cut",result="continued"}');
    expect(found.get("ringgate_hedges_total")).toContain('{pool="hedged",result="won"}');
  });
});
