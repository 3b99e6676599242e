// Direct, nginx, a bare Bun proxy and ringgate in several configurations (with and without Redis,
// OTel tracing, stream continuation) side by side in one run, targets interleaved and rotated each
// round so drift on the shared cores hits all of them alike; medians reported.

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseVllmMetrics } from "../../src/health/vllm-metrics.ts";
import { exitWithUsage, parseCommandLine } from "../../src/process/cli.ts";
import { waitFor } from "../../src/testing/poll.ts";
import { BENCH_CLI, type BenchSelection, parseOnly } from "./bench-cli.ts";
import { loadedModules, startBenchStack, type BenchStack, type Target, type TargetName } from "./bench-stack.ts";
import {
  measure,
  STACK_TIMINGS,
  type BenchScenario,
  type MeasureContext,
  type Measurement,
} from "./bench-scenarios.ts";
import {
  evaluateTargets,
  formatCpuSplit,
  formatTables,
  formatTargets,
  summarize,
  type Samples,
} from "./bench-table.ts";
import { compareConfigurations, configurationChecks, formatComparisons, type TargetProbes } from "./config-comparisons.ts";

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) exitWithUsage(BENCH_CLI, `--${name}: expected a positive number, got "${text}"`);
  return value;
}

interface BenchOptions {
  rounds: number;
  context: MeasureContext;
  scenarios: BenchScenario[];
  jsonPath?: string;
  /** CPU profiles of the "ringgate" target, one per stack, for explaining a missed target. */
  profileDir?: string;
}

function parseOptions(): BenchOptions {
  const { values } = parseCommandLine(BENCH_CLI, process.argv.slice(2));
  const quick = values.quick === true;
  let selection: BenchSelection;
  try {
    selection = parseOnly(values.only);
  } catch (error) {
    exitWithUsage(BENCH_CLI, (error as Error).message);
  }
  return {
    rounds: positiveNumber(values.rounds, "rounds", quick ? 1 : 3),
    context: { durationS: positiveNumber(values["duration-s"], "duration-s", 2), probes: quick ? 15 : 30, workDir: "" },
    // Each scenario's targets are already narrowed to the ones this run measures.
    scenarios: selection.scenarios,
    jsonPath: values.json,
    profileDir: values.profile,
  };
}

/** Aborted slow streams keep the emulator busy for a moment; the next target must start clean. */
async function waitForIdleWorker(workerUrl: string): Promise<void> {
  const idle = async (): Promise<boolean> => {
    const text = await fetch(`${workerUrl}/metrics`).then((r) => r.text(), () => "");
    // A worker that does not answer is not idle: only a scrape that says 0 running counts.
    return parseVllmMetrics(text, 0)?.running === 0;
  };
  await waitFor(idle, 20_000, `emulator at ${workerUrl} to be idle`, 100);
}

/**
 * One unrecorded short run per target first: ringgate has far more code for the JIT to compile than
 * nginx or the bare proxy, and the first seconds of compiling would otherwise be billed to round 1.
 */
async function warmUp(stack: BenchStack, scenarios: BenchScenario[], context: MeasureContext, workerUrl: string): Promise<void> {
  const first = scenarios[0];
  if (first === undefined || first.stack !== "fast") return;
  for (const scenario of scenarios) {
    for (const target of stack.targets.filter((t) => scenario.targets.includes(t.name))) {
      await waitForIdleWorker(workerUrl);
      await measure(scenario, target, { ...context, durationS: 1 });
    }
  }
}

/**
 * An overload scenario (3b) can leave ringgate's health checks with the worker ejected for a probe
 * interval or two after the worker is idle again; measuring then would count correct 503s as the
 * next scenario's errors. Other targets have no health state to wait for.
 */
async function waitForReadyGateway(target: Target): Promise<void> {
  if (!target.name.startsWith("ringgate")) return;
  const ready = async (): Promise<boolean> => (await fetch(`${target.url}/ready`).then((r) => r.status, () => 0)) === 200;
  await waitFor(ready, 30_000, `${target.name} /ready`, 100);
}

function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % Math.max(1, items.length);
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * After a stack's rounds: which gateways loaded the OTel SDK, and what the OTLP sink received. The
 * OTel API alone does not count: prom-client requires @opentelemetry/api at load (for exemplars, which
 * ringgate does not enable), so every gateway has it; without an SDK it is a no-op.
 */
async function probeTargets(stack: BenchStack, probes: TargetProbes): Promise<void> {
  for (const target of stack.targets) {
    const modules = await loadedModules(target);
    if (modules === undefined) continue;
    const sdk = modules.filter((path) => path.includes("/@opentelemetry/") && !path.includes("/@opentelemetry/api/"));
    probes.otelSdkModules.set(target.name, Math.max(sdk.length, probes.otelSdkModules.get(target.name) ?? 0));
  }
  probes.otlpExports += stack.otlpExports().requests;
}

async function runStack(
  stackKind: BenchScenario["stack"],
  options: BenchOptions,
  samples: Samples,
  probes: TargetProbes,
): Promise<void> {
  const scenarios = options.scenarios.filter((s) => s.stack === stackKind);
  if (scenarios.length === 0) return;
  const targets = [...new Set(scenarios.flatMap((s) => s.targets))];
  const profileDir = options.profileDir;
  const stack: BenchStack = await startBenchStack(STACK_TIMINGS[stackKind], { targets, profileDir });
  try {
    const workerUrl = stack.workerUrl;
    await warmUp(stack, scenarios, options.context, workerUrl);
    for (let round = 0; round < options.rounds; round++) {
      for (const scenario of scenarios) {
        const byTarget = samples.get(scenario.id) ?? new Map<TargetName, Measurement[]>();
        samples.set(scenario.id, byTarget);
        for (const target of rotated(stack.targets.filter((t) => scenario.targets.includes(t.name)), round)) {
          await waitForIdleWorker(workerUrl);
          await waitForReadyGateway(target);
          const m = await measure(scenario, target, options.context);
          byTarget.set(target.name, [...(byTarget.get(target.name) ?? []), m]);
          console.error(`round ${round + 1}/${options.rounds} ${scenario.id} ${target.name}: ${JSON.stringify(m)}`);
        }
      }
    }
    await probeTargets(stack, probes);
  } finally {
    await stack.stop();
  }
}

function machineLine(): string {
  const nginx = Bun.spawnSync(["nginx", "-v"]).stderr.toString().trim();
  const kernel = Bun.spawnSync(["uname", "-r"]).stdout.toString().trim();
  return `${new Date().toISOString()} — ${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, Linux ${kernel}, Bun ${Bun.version}, ${nginx}`;
}

async function main(): Promise<number> {
  const options = parseOptions();
  options.context.workDir = mkdtempSync(join(tmpdir(), "ringgate-bench-wrk-"));
  const samples: Samples = new Map();
  const probes: TargetProbes = { otelSdkModules: new Map(), otlpExports: 0 };
  const header = machineLine();
  try {
    await runStack("fast", options, samples, probes);
    await runStack("slow", options, samples, probes);
    await runStack("held", options, samples, probes);
  } finally {
    rmSync(options.context.workDir, { recursive: true, force: true });
  }
  const summary = summarize(samples);
  const checks = [...evaluateTargets(summary), ...configurationChecks(samples, probes)];
  const comparisons = compareConfigurations(samples, options.scenarios);
  console.log(`ringgate bench ${header}; ${options.rounds} round(s), medians`);
  console.log(formatTables(options.scenarios, summary));
  console.log(formatCpuSplit(options.scenarios, summary));
  console.log(`\nringgate's configurations, same run\n${formatComparisons(comparisons)}`);
  console.log(`\ntargets\n${formatTargets(checks)}`);
  if (options.jsonPath !== undefined) {
    const plain = Object.fromEntries([...summary].map(([id, rows]) => [id, Object.fromEntries(rows)]));
    const otelSdkModules = Object.fromEntries(probes.otelSdkModules);
    const json = { header, rounds: options.rounds, summary: plain, comparisons, otelSdkModules, checks };
    await Bun.write(options.jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  }
  return 0;
}

process.exit(await main());
