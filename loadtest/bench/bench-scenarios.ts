// The bench's scenarios and how one measurement of one target runs: load from wrk or the
// slow-streams client, the proxy's CPU from /proc around it and its RSS sampled during it.

import { join } from "node:path";
import type { StackTiming, Target, TargetName } from "./bench-stack.ts";
import { type CpuSplit, cpuPerRequest, RssSampler, treeCpuSnapshot } from "./proc-stats.ts";
import { CLOSING_LINE, type SlowStreamsResult } from "./slow-streams-client.ts";
import { runWrk } from "./wrk-load.ts";

export type ScenarioId = "nonstream-64" | "stream32-64" | "slow-256" | "slow-2000" | "held-2000";

export interface BenchScenario {
  id: ScenarioId;
  title: string;
  stack: "fast" | "slow" | "held";
  targets: TargetName[];
}

export interface Measurement {
  requestsPerS?: number;
  p50Ms?: number;
  p99Ms?: number;
  firstChunkP50Ms?: number;
  firstChunkP99Ms?: number;
  cpuMsPerRequest?: number;
  /** `cpuMsPerRequest` by thread: which part of the process the overhead is in. */
  cpuSplitMsPerRequest?: CpuSplit;
  /** Slow-stream scenarios: streams that had their first chunk when the probes ran. */
  streamsOpen?: number;
  /** Over the whole phase; for the slow-stream scenarios that includes closing every stream at once. */
  peakRssMb?: number;
  /** Slow-stream scenarios: the peak while every stream is still open, before the client closes them all. */
  openRssMb?: number;
  /** The anonymous part of the peak (heap and buffers), without the executable's clean pages. */
  peakAnonMb?: number;
  errors: number;
}

export interface MeasureContext {
  durationS: number;
  probes: number;
  workDir: string;
}

export const STACK_TIMINGS: Record<BenchScenario["stack"], StackTiming> = {
  // 1 ms between tokens keeps the 32 chunks of a stream in separate writes instead of one burst.
  fast: { ttftMs: 2, itlMs: 1 },
  slow: { ttftMs: 20, itlMs: 20 },
  // 2,000 streams at 20 ms/chunk overload 2 shared cores (see README), so memory per open stream
  // is also measured at a pace where every stream really is open.
  held: { ttftMs: 20, itlMs: 250 },
};

const PROXIES: TargetName[] = ["direct", "nginx", "bun-floor", "ringgate"];
// ringgate-otel: the cost of tracing per request (OTEL_EXPORTER_OTLP_ENDPOINT set) against the default
// (unset); ringgate-no-continuation: what the continuation machinery costs a stream that never breaks.
const OTEL = "ringgate-otel";
const NO_CONTINUATION = "ringgate-no-continuation";

export const BENCH_SCENARIOS: BenchScenario[] = [
  {
    id: "nonstream-64",
    title: "(1) non-streaming, 16 tokens, 64 connections",
    stack: "fast",
    targets: [...PROXIES, "ringgate-no-redis", OTEL],
  },
  {
    id: "stream32-64",
    title: "(2) streams of 32 chunks, 64 connections",
    stack: "fast",
    targets: [...PROXIES, "ringgate-no-redis", OTEL, NO_CONTINUATION],
  },
  {
    id: "slow-256",
    title: "(3a) 256 open slow streams (20 ms/chunk): first chunk of new streams",
    stack: "slow",
    targets: [...PROXIES, NO_CONTINUATION],
  },
  {
    id: "slow-2000",
    title: "(3b) 2,000 open slow streams (20 ms/chunk)",
    stack: "slow",
    targets: ["direct", "nginx", "ringgate"],
  },
  {
    id: "held-2000",
    title: "(3c) 2,000 open streams at 250 ms/chunk: memory with every stream open",
    stack: "held",
    targets: [...PROXIES, NO_CONTINUATION],
  },
];

function chatBody(stream: boolean, maxTokens: number): object {
  return { model: "heavy", messages: [{ role: "user", content: "Greet the pilot." }], max_tokens: maxTokens, ignore_eos: true, stream };
}

/** Runs the client; `onClosing` fires when it is about to close every stream at once. */
async function runSlowStreamsClient(url: string, streams: number, probes: number, onClosing: () => void): Promise<SlowStreamsResult> {
  // 1,000 tokens at 20 ms keep every background stream open well past the probes.
  const child = Bun.spawn(["bun", join(import.meta.dir, "slow-streams-client.ts"), url, String(streams), String(probes), "1000"], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "16384" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(child.stderr).text();
  let output = "";
  let closing = false;
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await lines.read();
    if (done) break;
    output += value;
    if (!closing && output.includes(`${CLOSING_LINE}\n`)) {
      closing = true;
      onClosing();
    }
  }
  const code = await child.exited;
  if (code !== 0) throw new Error(`slow-streams client failed (${code}): ${(await stderr).slice(-2000)}`);
  const last = output.trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as SlowStreamsResult;
}

export async function measure(scenario: BenchScenario, target: Target, context: MeasureContext): Promise<Measurement> {
  const pid = target.proxyPid;
  const sampler = pid === undefined ? undefined : new RssSampler(pid);
  const cpuBefore = pid === undefined ? undefined : treeCpuSnapshot(pid);
  sampler?.start();
  const result: Measurement = { errors: 0 };
  let requests = 0;
  if (scenario.stack === "fast") {
    const wrk = await runWrk({
      url: target.url,
      body: chatBody(scenario.id === "stream32-64", scenario.id === "stream32-64" ? 32 : 16),
      connections: 64,
      durationS: context.durationS,
      scriptPath: join(context.workDir, `${scenario.id}.lua`),
    });
    Object.assign(result, { requestsPerS: wrk.requestsPerS, p50Ms: wrk.p50Ms, p99Ms: wrk.p99Ms, errors: wrk.errors });
    requests = wrk.requests;
  } else {
    const streams = scenario.id === "slow-256" ? 256 : 2000;
    const slow = await runSlowStreamsClient(target.url, streams, context.probes, () => {
      result.openRssMb = sampler?.mark().rssMb;
    });
    Object.assign(result, {
      firstChunkP50Ms: slow.firstChunkP50Ms,
      firstChunkP99Ms: slow.firstChunkP99Ms,
      streamsOpen: slow.opened,
      errors: slow.openFailures + slow.probeFailures,
    });
    requests = streams + context.probes;
  }
  const peak = sampler?.stop();
  result.peakRssMb = peak?.rssMb;
  result.peakAnonMb = peak?.anonMb;
  if (pid !== undefined && cpuBefore !== undefined && requests > 0) {
    const cpu = cpuPerRequest(cpuBefore, treeCpuSnapshot(pid), requests);
    result.cpuMsPerRequest = cpu.totalMs;
    result.cpuSplitMsPerRequest = cpu.split;
  }
  return result;
}
