import { describe, expect, test } from "bun:test";
import { parseOnly } from "./bench-cli.ts";
import { BENCH_SCENARIOS, type Measurement } from "./bench-scenarios.ts";
import type { TargetName } from "./bench-stack.ts";
import type { Samples } from "./bench-table.ts";
import {
  compareConfigurations,
  configurationChecks,
  formatComparisons,
  paired,
  type TargetProbes,
} from "./config-comparisons.ts";

const m = (cpuMsPerRequest: number, openRssMb?: number): Measurement => ({ errors: 0, cpuMsPerRequest, openRssMb });

/** Rounds of the 32-chunk stream scenario whose load drifts ±20 % while continuation costs `extra`. */
function driftingStreams(extra: number): Samples {
  const drift = [1, 1.2, 0.8, 1.1, 0.9];
  const rows = new Map<TargetName, Measurement[]>([
    ["ringgate-no-continuation", drift.map((d) => m(0.5 * d))],
    ["ringgate", drift.map((d) => m(0.5 * d * (1 + extra)))],
    ["bun-floor", drift.map((d) => m(0.25 * d))],
  ]);
  return new Map([["stream32-64", rows]]);
}

const noProbes: TargetProbes = { otelSdkModules: new Map(), otlpExports: 0 };

describe("paired ratios", () => {
  test("drift between rounds cancels: the per-round ratio is recovered exactly", () => {
    const pair = ["ringgate", "ringgate-no-continuation"] as const;
    const ratio = paired(driftingStreams(0.02), "stream32-64", pair, (x) => x.cpuMsPerRequest, (x, y) => x / y);
    expect(ratio).toBeCloseTo(1.02, 10);
  });

  test("rounds where either side is missing are skipped; none left is undefined", () => {
    const samples: Samples = new Map([["stream32-64", new Map([["ringgate", [m(1), m(2)]], ["bun-floor", [m(1)]]])]]);
    const sub = (x: number, y: number) => x - y;
    expect(paired(samples, "stream32-64", ["ringgate", "bun-floor"], (x) => x.cpuMsPerRequest, sub)).toBe(0);
    const missing = paired(samples, "stream32-64", ["ringgate", "ringgate-otel"], (x) => x.cpuMsPerRequest, sub);
    expect(missing).toBeUndefined();
  });
});

describe("configuration checks", () => {
  test.each([
    ["2 % continuation overhead is met", 0.02, true],
    ["5 % is a miss", 0.05, false],
  ])("%s", (_, extra, ok) => {
    const [continuation] = configurationChecks(driftingStreams(extra), noProbes);
    expect(continuation).toMatchObject({ limit: "<= 0.03", ok });
    expect(continuation?.actual).toBeCloseTo(extra, 10);
  });

  test("OTel: unset must load no SDK module, set must load some and export; unmeasured is n/a", () => {
    const probes = (ringgate: number, otel: number | undefined, exports: number): TargetProbes => ({
      otelSdkModules: new Map<TargetName, number>([
        ["ringgate", ringgate],
        ...(otel === undefined ? [] : [["ringgate-otel", otel] as const]),
      ]),
      otlpExports: exports,
    });
    const verdicts = (p: TargetProbes) =>
      configurationChecks(new Map(), p)
        .slice(1)
        .map((c) => (Number.isFinite(c.actual) ? c.ok : "n/a"));
    expect(verdicts(probes(0, 240, 12))).toEqual([true, true, true]);
    expect(verdicts(probes(3, 240, 0))).toEqual([false, true, false]);
    expect(verdicts(probes(0, undefined, 0))).toEqual([true, "n/a", "n/a"]);
  });
});

describe("comparisons", () => {
  test("only the pairs this run's selection measures, as paired ratios", () => {
    const { scenarios } = parseOnly("stream32-64,ringgate,ringgate-no-continuation,bun-floor");
    expect(formatComparisons(compareConfigurations(driftingStreams(0.1), scenarios)).split("\n")).toEqual([
      "CPU per 32-chunk stream: ringgate (OTel unset) ÷ bun-floor: 2.200",
      "CPU per 32-chunk stream: ringgate ÷ ringgate-no-continuation: continuation's cost: 1.100",
    ]);
  });

  test("a pair selected but without measurements shows as -, not as a number", () => {
    const text = formatComparisons(compareConfigurations(driftingStreams(0.1), BENCH_SCENARIOS));
    expect(text).toContain("CPU per 32-chunk stream: ringgate-otel ÷ ringgate: tracing's cost: -");
    expect(text).toContain("open RSS @2,000 streams (MB): ringgate − ringgate-no-continuation: -");
  });

  test("open RSS difference at 2,000 held streams", () => {
    const held = new Map<TargetName, Measurement[]>([
      ["ringgate", [m(1, 140), m(1, 150), m(1, 160)]],
      ["ringgate-no-continuation", [m(1, 130), m(1, 149), m(1, 150)]],
    ]);
    const rows = compareConfigurations(new Map([["held-2000", held]]), BENCH_SCENARIOS);
    expect(rows.find((r) => r.name.startsWith("open RSS"))?.value).toBe(10);
  });
});
