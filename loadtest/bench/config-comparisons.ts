// ringgate against itself in other configurations (OTel tracing on, stream continuation off) and
// against the bare Bun proxy. A few per cent is below the drift between rounds on 2 shared cores
// (±20 % here), so these are medians of per-round ratios: each round measures both targets back to
// back, and what drifts between rounds cancels out.

import { median } from "../runner/percentile.ts";
import type { BenchScenario, Measurement, ScenarioId } from "./bench-scenarios.ts";
import type { TargetName } from "./bench-stack.ts";
import { check, type Samples, type TargetCheck } from "./bench-table.ts";

/** What the bench saw of its gateways besides load: modules loaded (loaded-modules-probe.ts), exports. */
export interface TargetProbes {
  /** Per gateway target, the OTel SDK modules (@opentelemetry/* but the API) loaded after its measurements. */
  otelSdkModules: Map<TargetName, number>;
  /** Exports the OTLP sink received from ringgate-otel. */
  otlpExports: number;
}

export interface Comparison {
  name: string;
  value: number | undefined;
}

type Pick = (m: Measurement) => number | undefined;
const cpu: Pick = (m) => m.cpuMsPerRequest;

/** Median over rounds of `combine(a, b)` for the round's measurements of `a` and `b`. */
export function paired(
  samples: Samples,
  scenario: ScenarioId,
  [a, b]: readonly [TargetName, TargetName],
  pick: Pick,
  combine: (x: number, y: number) => number | undefined,
): number | undefined {
  const xs = samples.get(scenario)?.get(a) ?? [];
  const ys = samples.get(scenario)?.get(b) ?? [];
  const values = xs.flatMap((m, round) => {
    const x = pick(m);
    const y = ys[round] === undefined ? undefined : pick(ys[round]);
    const v = x === undefined || y === undefined ? undefined : combine(x, y);
    return v === undefined || !Number.isFinite(v) ? [] : [v];
  });
  return values.length === 0 ? undefined : median(values);
}

const divide = (x: number, y: number): number | undefined => (y === 0 ? undefined : x / y);

export function configurationChecks(samples: Samples, probes: TargetProbes): TargetCheck[] {
  const continuation = paired(samples, "stream32-64", ["ringgate", "ringgate-no-continuation"], cpu, divide);
  const sdk = (t: TargetName) => probes.otelSdkModules.get(t);
  const traced = probes.otelSdkModules.has("ringgate-otel") ? probes.otlpExports : undefined;
  return [
    check(
      "continuation overhead, CPU per 32-chunk stream: ringgate ÷ ringgate-no-continuation − 1",
      "<= 0.03",
      continuation === undefined ? undefined : continuation - 1,
      (v) => v <= 0.03,
    ),
    check("OTel unset loads no SDK: @opentelemetry/* but api, ringgate", "= 0", sdk("ringgate"), (v) => v === 0),
    check("OTel set: @opentelemetry/* but api, ringgate-otel", "> 0", sdk("ringgate-otel"), (v) => v > 0),
    check("OTel set: exports the OTLP sink received", "> 0", traced, (v) => v > 0),
  ];
}

const WHAT: Partial<Record<ScenarioId, string>> = {
  "nonstream-64": "CPU per non-streaming request",
  "stream32-64": "CPU per 32-chunk stream",
  "slow-256": "CPU per slow stream @256",
};

/** The ratios that say what tracing and continuation cost, and where ringgate stands to the floor. */
export function compareConfigurations(samples: Samples, scenarios: readonly BenchScenario[]): Comparison[] {
  const pairs: [TargetName, TargetName, string][] = [
    ["ringgate", "bun-floor", "ringgate (OTel unset) ÷ bun-floor"],
    ["ringgate-otel", "bun-floor", "ringgate-otel (OTel set) ÷ bun-floor"],
    ["ringgate-otel", "ringgate", "ringgate-otel ÷ ringgate: tracing's cost"],
    ["ringgate", "ringgate-no-continuation", "ringgate ÷ ringgate-no-continuation: continuation's cost"],
  ];
  const rows: Comparison[] = [];
  for (const scenario of scenarios) {
    const what = WHAT[scenario.id];
    if (what === undefined) continue;
    for (const [a, b, name] of pairs) {
      if (!scenario.targets.includes(a) || !scenario.targets.includes(b)) continue;
      rows.push({ name: `${what}: ${name}`, value: paired(samples, scenario.id, [a, b], cpu, divide) });
    }
  }
  const held = scenarios.find((s) => s.id === "held-2000");
  if (held?.targets.includes("ringgate") && held.targets.includes("ringgate-no-continuation")) {
    const pair = ["ringgate", "ringgate-no-continuation"] as const;
    const rss = paired(samples, "held-2000", pair, (m) => m.openRssMb, (x, y) => x - y);
    rows.push({ name: "open RSS @2,000 streams (MB): ringgate − ringgate-no-continuation", value: rss });
  }
  return rows;
}

export function formatComparisons(rows: readonly Comparison[]): string {
  if (rows.length === 0) return "none measured in this run";
  return rows.map((row) => `${row.name}: ${row.value === undefined ? "-" : row.value.toFixed(3)}`).join("\n");
}
