import { expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { GatewayConfig } from "../config/schema.ts";
import { type WorkerEvent, WorkerEventBus } from "../health/worker-events.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { ManualSchedule } from "../testing/manual-schedule.ts";
import { testRecord } from "../testing/request-records.ts";
import { VariantGuards } from "./variant-guard.ts";
import { VariantWeights } from "./variant-weights.ts";

/**
 * When a guard re-arms, on a manual clock with the real weights store: not after its own pull, not when
 * a reload keeps the file's weights, but after an operator's change or a reload that changed the weights.
 */

function configWith(weights: [number, number]): GatewayConfig {
  const guard = { maxErrorRateDelta: 0.1, minSamples: 5, windowMs: 1_000 };
  return parseConfig({
    pools: { "heavy-a": { workers: ["http://a:8000"] }, "heavy-b": { workers: ["http://b:8000"] } },
    models: {
      heavy: {
        variants: [
          { pool: "heavy-a", weight: weights[0] },
          { pool: "heavy-b", weight: weights[1], guard },
        ],
      },
    },
  });
}

function record(pool: string, failed: boolean): RequestRecord {
  const outcome = failed
    ? { status: 500, outcome: "upstream_error" as const, ttftMs: undefined, errorCode: "upstream_500" }
    : { ttftMs: 10 };
  const fields = { requestId: crypto.randomUUID(), pool, worker: `http://${pool}:8000` };
  return testRecord({ ...fields, latencyMs: 20, promptTokens: 1, completionTokens: 1, ...outcome });
}

test("the guard re-arms after an operator's change or a reload that changed the weights, not otherwise", () => {
  const clock = new ManualSchedule(1_000_000);
  let config = configWith([50, 50]);
  const events = new WorkerEventBus();
  const pulls: WorkerEvent[] = [];
  events.on((event) => {
    if (event.actor === "guard") pulls.push(event);
  });
  const weights = new VariantWeights(
    () => config,
    events,
    () => clock.nowMs,
  );
  const guards = new VariantGuards({ weights, config: () => config, now: () => clock.nowMs, schedule: clock.schedule });
  const configured = () => {
    const entry = config.models.heavy;
    return entry && "variants" in entry ? entry.variants : [];
  };
  const candidateWeight = () => weights.variants("heavy", configured())[1]?.weight;
  /** 5 good baseline requests and 5 candidate requests of which 3 fail: a 60-point breach. */
  const badRound = () => {
    for (let i = 0; i < 5; i++) guards.observe(record("heavy-a", false));
    for (let i = 0; i < 5; i++) guards.observe(record("heavy-b", i < 3));
    guards.evaluate();
  };

  badRound();
  expect(candidateWeight()).toBe(0);
  expect(pulls).toHaveLength(1);

  // Its own pull does not re-arm it, nor does a reload that leaves the file's weights as they were.
  badRound();
  config = configWith([50, 50]);
  weights.reconcile(config);
  badRound();
  expect(pulls).toHaveLength(1);

  weights.set("heavy", { "heavy-b": 20 }, "admin");
  expect(candidateWeight()).toBe(20);
  badRound();
  expect(candidateWeight()).toBe(0);
  expect(pulls).toHaveLength(2);

  config = configWith([70, 30]);
  weights.reconcile(config);
  expect(candidateWeight()).toBe(30);
  badRound();
  expect(pulls).toHaveLength(3);
  expect(pulls.at(-1)?.reason).toBe(
    "heavy: heavy-a=70, heavy-b=0 (guard: error rate 60.0 % vs 0.0 % on heavy-a over 5 requests (+60.0 % > +10.0 %))",
  );
});
