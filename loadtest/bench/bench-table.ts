// Medians over rounds, ratios against direct and nginx, and the targets as pass/miss lines.

import { median } from "../runner/percentile.ts";
import type { TargetName } from "./bench-stack.ts";
import type { BenchScenario, Measurement, ScenarioId } from "./bench-scenarios.ts";
import type { CpuSplit } from "./proc-stats.ts";

export type Samples = Map<ScenarioId, Map<TargetName, Measurement[]>>;
type Summary = Map<ScenarioId, Map<TargetName, Measurement>>;

export interface TargetCheck {
  name: string;
  limit: string;
  actual: number;
  ok: boolean;
}

function medianOf(values: readonly Measurement[], pick: (m: Measurement) => number | undefined): number | undefined {
  const numbers = values.flatMap((m) => {
    const v = pick(m);
    return v === undefined || !Number.isFinite(v) ? [] : [v];
  });
  return numbers.length === 0 ? undefined : median(numbers);
}

function medianSplit(values: readonly Measurement[]): CpuSplit | undefined {
  const eventLoopMs = medianOf(values, (m) => m.cpuSplitMsPerRequest?.eventLoopMs);
  const fetchMs = medianOf(values, (m) => m.cpuSplitMsPerRequest?.fetchMs);
  const otherMs = medianOf(values, (m) => m.cpuSplitMsPerRequest?.otherMs);
  if (eventLoopMs === undefined || fetchMs === undefined || otherMs === undefined) return undefined;
  return { eventLoopMs, fetchMs, otherMs };
}

export function summarize(samples: Samples): Summary {
  const summary: Summary = new Map();
  for (const [scenario, byTarget] of samples) {
    const out = new Map<TargetName, Measurement>();
    for (const [target, values] of byTarget) {
      out.set(target, {
        requestsPerS: medianOf(values, (m) => m.requestsPerS),
        p50Ms: medianOf(values, (m) => m.p50Ms),
        p99Ms: medianOf(values, (m) => m.p99Ms),
        firstChunkP50Ms: medianOf(values, (m) => m.firstChunkP50Ms),
        firstChunkP99Ms: medianOf(values, (m) => m.firstChunkP99Ms),
        cpuMsPerRequest: medianOf(values, (m) => m.cpuMsPerRequest),
        cpuSplitMsPerRequest: medianSplit(values),
        streamsOpen: medianOf(values, (m) => m.streamsOpen),
        peakRssMb: medianOf(values, (m) => m.peakRssMb),
        openRssMb: medianOf(values, (m) => m.openRssMb),
        peakAnonMb: medianOf(values, (m) => m.peakAnonMb),
        errors: values.reduce((sum, m) => sum + m.errors, 0),
      });
    }
    summary.set(scenario, out);
  }
  return summary;
}

function num(value: number | undefined, digits: number): string {
  return value === undefined ? "-" : value.toFixed(digits);
}

function signed(value: number | undefined, digits: number): string {
  return value === undefined ? "-" : `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function diff(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

const HEADERS = ["target", "req/s", "×direct", "p50 ms", "+p50", "p99 ms", "+p99", "open", "1st chunk p50", "+vs direct", "CPU ms/req", "×nginx", "×floor", "peak RSS MB", "anon MB", "open RSS", "errors"];
const WIDTHS = [24, 7, 8, 7, 7, 8, 7, 5, 14, 11, 11, 7, 7, 12, 8, 9, 7];

function line(cells: readonly string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i] ?? 8) : cell.padStart(WIDTHS[i] ?? 8))).join(" ");
}

export function formatTables(scenarios: readonly BenchScenario[], summary: Summary): string {
  const out: string[] = [];
  for (const scenario of scenarios) {
    const rows = summary.get(scenario.id);
    if (rows === undefined) continue;
    const direct = rows.get("direct");
    const nginx = rows.get("nginx");
    const floor = rows.get("bun-floor");
    out.push("", scenario.title, line(HEADERS));
    for (const [name, m] of rows) {
      out.push(
        line([
          name,
          num(m.requestsPerS, 0),
          num(ratio(m.requestsPerS, direct?.requestsPerS), 2),
          num(m.p50Ms, 2),
          signed(diff(m.p50Ms, direct?.p50Ms), 2),
          num(m.p99Ms, 2),
          signed(diff(m.p99Ms, direct?.p99Ms), 2),
          num(m.streamsOpen, 0),
          num(m.firstChunkP50Ms, 2),
          signed(diff(m.firstChunkP50Ms, direct?.firstChunkP50Ms), 2),
          num(m.cpuMsPerRequest, 3),
          num(ratio(m.cpuMsPerRequest, nginx?.cpuMsPerRequest), 2),
          num(ratio(m.cpuMsPerRequest, floor?.cpuMsPerRequest), 2),
          num(m.peakRssMb, 1),
          num(m.peakAnonMb, 1),
          num(m.openRssMb, 1),
          String(m.errors),
        ]),
      );
    }
  }
  return out.join("\n");
}

const SPLIT_HEADERS = ["target", "event loop", "fetch thread", "GC, JIT, other", "total"];

/**
 * The CPU columns by thread, in µs per request: Bun's fetch does its socket work on its own thread,
 * so this shows whether an overhead is the runtime's HTTP client or JS on the event loop.
 */
export function formatCpuSplit(scenarios: readonly BenchScenario[], summary: Summary): string {
  const out: string[] = [];
  const us = (ms: number): string => (ms * 1000).toFixed(0).padStart(14);
  for (const scenario of scenarios) {
    const rows = [...(summary.get(scenario.id) ?? [])].filter(([, m]) => m.cpuSplitMsPerRequest !== undefined);
    if (rows.length === 0) continue;
    const header = [SPLIT_HEADERS[0]?.padEnd(24), ...SPLIT_HEADERS.slice(1).map((h) => h.padStart(14))].join(" ");
    out.push("", `${scenario.title}: CPU µs per request by thread`, header);
    for (const [name, m] of rows) {
      const split = m.cpuSplitMsPerRequest as CpuSplit;
      const cells = [us(split.eventLoopMs), us(split.fetchMs), us(split.otherMs), us(m.cpuMsPerRequest ?? 0)];
      out.push([name.padEnd(24), ...cells].join(" "));
    }
  }
  return out.join("\n");
}

export function check(name: string, limit: string, actual: number | undefined, ok: (v: number) => boolean): TargetCheck {
  const value = actual ?? Number.NaN;
  return { name, limit, actual: value, ok: Number.isFinite(value) && ok(value) };
}

export function evaluateTargets(summary: Summary): TargetCheck[] {
  const get = (s: ScenarioId, t: TargetName): Measurement | undefined => summary.get(s)?.get(t);
  const cpuRatio = (s: ScenarioId) => ratio(get(s, "ringgate")?.cpuMsPerRequest, get(s, "nginx")?.cpuMsPerRequest);
  const firstChunk = (t: TargetName) => get("slow-256", t)?.firstChunkP50Ms;
  return [
    check("CPU per non-streaming request, ringgate ÷ nginx", "<= 2", cpuRatio("nonstream-64"), (v) => v <= 2),
    check("CPU per 32-chunk stream, ringgate ÷ nginx", "<= 1.5", cpuRatio("stream32-64"), (v) => v <= 1.5),
    check("first chunk p50 @256 streams, ringgate − nginx (ms)", "<= 1", diff(firstChunk("ringgate"), firstChunk("nginx")), (v) => v <= 1),
    check("first chunk p50 @256 streams, ringgate − direct (ms)", "<= 2", diff(firstChunk("ringgate"), firstChunk("direct")), (v) => v <= 2),
    check("peak RSS @2,000 open streams (3c), ringgate (MB)", "<= 150", get("held-2000", "ringgate")?.openRssMb, (v) => v <= 150),
    check(
      "metrics path cost: 1 − req/s with Redis ÷ without (non-stream)",
      "<= 0.05",
      diff(1, ratio(get("nonstream-64", "ringgate")?.requestsPerS, get("nonstream-64", "ringgate-no-redis")?.requestsPerS)),
      (v) => v <= 0.05,
    ),
  ];
}

export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => {
      // A scenario left out with --only is not a miss.
      if (!Number.isFinite(c.actual)) return `n/a   ${c.name} ${c.limit}: not measured in this run`;
      return `${c.ok ? "MET " : "MISS"}  ${c.name} ${c.limit}: ${c.actual.toFixed(3)}`;
    })
    .join("\n");
}
