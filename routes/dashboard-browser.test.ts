import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dashboardFeature } from "../src/dashboard/dashboard-feature.ts";
import { experimentsFeature } from "../src/experiments/experiments-feature.ts";
import { feedbackFeature } from "../src/experiments/feedback-feature.ts";
import { metricsFeature } from "../src/metrics/metrics-feature.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../src/testing/emulated-gateway.ts";
import { dumpDom, screenshot } from "../src/testing/headless-chromium.ts";

const ADMIN_KEY = "browser-test-admin-key";
const SHOTS_DIR = join(process.env.SCREENSHOT_DIR ?? tmpdir(), `ringgate-screenshots-${process.pid}`);

/** Elements carrying `attribute`, each as its attributes, parsed with Bun's HTMLRewriter. */
function elementsWith(html: string, attribute: string): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  new HTMLRewriter()
    .on(`[${attribute}]`, { element: (element) => void found.push(Object.fromEntries(element.attributes)) })
    .transform(html);
  return found;
}

describe("the dashboard and the docs in headless Chromium, network limited to loopback", () => {
  let harness: EmulatedGateway;
  let url: string;
  let workers: { pool: string; url: string; state: string }[];

  beforeAll(async () => {
    mkdirSync(SHOTS_DIR, { recursive: true });
    harness = await startEmulatedGateway({
      pools: { heavy: 2, light: 2 },
      // Short buckets, so a few seconds of traffic draw lines rather than one point.
      features: [
        metricsFeature(),
        feedbackFeature(),
        experimentsFeature(),
        dashboardFeature({ bucketMs: 250, buckets: 40 }),
      ],
      config: {
        auth: { adminApiKey: ADMIN_KEY },
        models: {
          npc: {
            variants: [
              { pool: "heavy", weight: 80 },
              { pool: "light", weight: 20, guard: { maxErrorRateDelta: 0.05 } },
            ],
          },
          intent: { prefer: ["light", "heavy"], ttftBudgetMs: 800 },
          "Qwen/Qwen3-8B-AWQ": { route: "light" },
        },
      },
    });
    url = harness.fixture.url;
    const light = harness.emulators[3]?.url ?? "";
    harness.services.health?.drain("light", light, "browser-test");
    for (let index = 0; index < 24; index++) {
      const model = ["heavy", "light", "npc"][index % 3] ?? "light";
      const body = { model, stream: index % 2 === 0, messages: [{ role: "user", content: `hi ${index}` }] };
      await (await harness.fixture.post("/v1/chat/completions", body)).text();
      await Bun.sleep(100);
    }
    workers = Object.values(harness.services.health?.snapshot() ?? {}).flat();
  });
  afterAll(() => harness.stop());

  test("the dashboard shows every pool and worker with its state, and charts with data", async () => {
    const page = `${url}/dashboard?key=${ADMIN_KEY}`;
    const dom = await dumpDom(page);
    const shot = join(SHOTS_DIR, "dashboard.png");
    await screenshot(page, shot, { windowSize: [1400, 1900] });
    console.log(`dashboard screenshot: ${shot}`);

    expect(elementsWith(dom, "data-pool").map((element) => element["data-pool"])).toEqual(["heavy", "light"]);
    const shown = elementsWith(dom, "data-worker").map((element) => [element["data-worker"], element["data-state"]]);
    expect(shown.sort()).toEqual(workers.map((worker) => [worker.url, worker.state]).sort());
    expect(shown.map(([, state]) => state)).toContain("drained");
    const charted = elementsWith(dom, "data-chart").filter((element) => Number(element["data-points"]) > 0);
    expect(charted.map((element) => element["data-chart"])).toContain("latency");
    const variants = elementsWith(dom, "data-variant").map((row) => [row["data-variant"], row["data-guard"]]);
    expect(variants).toEqual([
      ["heavy", "none"],
      ["light", "watching"],
    ]);
    const models = elementsWith(dom, "data-model").map((element) => element["data-model"]);
    expect(models).toEqual(["npc", "intent", "Qwen/Qwen3-8B-AWQ"]);
  }, 120_000);

  test("without the key the page says so instead of showing data", async () => {
    const dom = await dumpDom(`${url}/dashboard`);
    expect(dom).toContain("unauthorized");
    expect(elementsWith(dom, "data-worker")).toEqual([]);
  }, 60_000);

  test("/docs renders its operation list from the gateway's own assets", async () => {
    const dom = await dumpDom(`${url}/docs`, { virtualTimeMs: 8_000 });
    const shot = join(SHOTS_DIR, "docs.png");
    await screenshot(`${url}/docs`, shot, { virtualTimeMs: 8_000, windowSize: [1400, 1600] });
    console.log(`docs screenshot: ${shot}`);

    const paths = elementsWith(dom, "data-path").map((element) => element["data-path"]);
    for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/models", "/dashboard", "/ready"]) {
      expect(paths).toContain(path);
    }
  }, 120_000);
});
