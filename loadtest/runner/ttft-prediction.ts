// `bun run loadtest -- ttft-prediction`: how far the tier router's predicted TTFT is from the TTFT
// then observed, on emulated heavy and light replicas with vLLM-like timing (prefill rate, batch
// limit, queueing). Open-loop arrivals with a burst in the middle, prompts of 50–2,000 tokens, all
// through a tier model (heavy preferred, spill to light); every record carries its prediction.

import { parseConfig } from "../../src/config/load.ts";
import { startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../../src/health/health-feature.ts";
import type { RequestRecord } from "../../src/proxy/request-record.ts";
import { type EmulatorProcess, spawnEmulator } from "../../src/testing/emulator-process.ts";
import { seededRandom } from "../scenarios/seeded-random.js";
import { percentile } from "./percentile.ts";

/** Arrival rate per second, for how long: steady, a burst past the heavy pool's capacity, steady. */
const STAGES = [
  { durationS: 10, ratePerS: 3 },
  { durationS: 5, ratePerS: 24 },
  { durationS: 10, ratePerS: 3 },
];
const BUDGET_MS = 1_000;

export interface PredictionErrors {
  samples: number;
  /** |observed − predicted| in ms. */
  absP50Ms: number;
  absP95Ms: number;
  /** observed − predicted: positive = slower than predicted. */
  signedP50Ms: number;
  /** |observed − predicted| / observed. */
  relativeP50: number;
  byPool: Record<string, number>;
  /** Requests that met a queue on their worker: where the prediction has to model waiting. */
  queued: number;
  observedP50Ms: number;
  observedP95Ms: number;
}

export function predictionErrors(records: readonly RequestRecord[]): PredictionErrors {
  const pairs = records.filter(
    (r) => r.outcome === "ok" && r.stream && r.ttftMs !== undefined && r.predictedTtftMs !== undefined,
  );
  const signed = pairs.map((r) => (r.ttftMs ?? 0) - (r.predictedTtftMs ?? 0));
  const byPool: Record<string, number> = {};
  for (const record of pairs) byPool[record.pool] = (byPool[record.pool] ?? 0) + 1;
  return {
    samples: pairs.length,
    absP50Ms: percentile(signed.map(Math.abs), 50),
    absP95Ms: percentile(signed.map(Math.abs), 95),
    signedP50Ms: percentile(signed, 50),
    relativeP50: percentile(
      pairs.map((r, i) => Math.abs(signed[i] ?? 0) / Math.max(1, r.ttftMs ?? 1)),
      50,
    ),
    byPool,
    queued: pairs.filter((r) => (r.queueAhead ?? 0) > 0).length,
    observedP50Ms: percentile(
      pairs.map((r) => r.ttftMs ?? 0),
      50,
    ),
    observedP95Ms: percentile(
      pairs.map((r) => r.ttftMs ?? 0),
      95,
    ),
  };
}

function body(random: () => number, seq: number): string {
  const promptTokens = 50 + Math.floor(random() * 1_950);
  // Unique from the first characters, so no prefix-cache hit blurs the comparison.
  const content = `${seq} ${"word ".repeat(Math.ceil((promptTokens * 4) / 5))}`;
  return JSON.stringify({
    model: "npc-dialogue",
    stream: true,
    max_tokens: 24 + Math.floor(random() * 40),
    messages: [{ role: "user", content }],
  });
}

async function sendAll(url: string): Promise<void> {
  const random = seededRandom(7);
  const sends: Promise<void>[] = [];
  let seq = 0;
  for (const stage of STAGES) {
    const stageEnd = performance.now() + stage.durationS * 1000;
    while (performance.now() < stageEnd) {
      const text = body(random, seq++);
      sends.push(
        fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: text })
          .then((r) => r.text())
          .then(() => undefined),
      );
      await Bun.sleep((-Math.log(1 - random()) / stage.ratePerS) * 1000);
    }
  }
  await Promise.allSettled(sends);
}

export async function measureTtftPrediction(): Promise<PredictionErrors> {
  const startWorker = (profile: string) =>
    spawnEmulator(["--profile", profile, "--served-model-name", profile, "--max-num-seqs", "4"]);
  const workers: EmulatorProcess[] = await Promise.all(["heavy", "heavy", "light", "light"].map(startWorker));
  const urls = workers.map((worker) => worker.url);
  const config = parseConfig({
    pools: { heavy: { workers: urls.slice(0, 2) }, light: { workers: urls.slice(2) } },
    models: { "npc-dialogue": { prefer: ["heavy", "light"], ttftBudgetMs: BUDGET_MS } },
    health: { intervalMs: 500 },
    logLevel: "warn",
  });
  const records: RequestRecord[] = [];
  const recorder = {
    name: "records",
    setup: (context: { onFinish(listener: (r: RequestRecord) => void): void }) =>
      context.onFinish((r) => records.push(r)),
  };
  const gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1", features: [recorder, healthFeature()] });
  try {
    await sendAll(`${gateway.url}/v1/chat/completions`);
  } finally {
    await gateway.stop(1_000);
    await Promise.all(workers.map((worker) => worker.stop()));
  }
  const errors = predictionErrors(records);
  console.log(
    `TTFT prediction on emulated replicas (${errors.samples} streamed requests; ${JSON.stringify(errors.byPool)}; ` +
      `${errors.queued} met a queue; observed TTFT p50 ${errors.observedP50Ms.toFixed(0)} ms, ` +
      `p95 ${errors.observedP95Ms.toFixed(0)} ms): ` +
      `|error| p50 ${errors.absP50Ms.toFixed(1)} ms, p95 ${errors.absP95Ms.toFixed(1)} ms; ` +
      `signed p50 ${errors.signedP50Ms.toFixed(1)} ms; relative |error| p50 ${(errors.relativeP50 * 100).toFixed(1)} %`,
  );
  return errors;
}
