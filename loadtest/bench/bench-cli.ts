// Command line of `bun run bench`, apart from main.ts so the CLI test can read it without running a bench.

import type { CliSpec } from "../../src/process/cli.ts";
import { BENCH_SCENARIOS, type BenchScenario } from "./bench-scenarios.ts";
import { TARGET_NAMES, type TargetName } from "./bench-stack.ts";

const OPTIONS = {
  quick: { type: "boolean", description: "one round and fewer probes: a smoke run, not a measurement" },
  rounds: {
    type: "string",
    value: "N",
    description: "rounds per scenario and target; medians are reported",
    default: "3 (1 with --quick)",
  },
  "duration-s": { type: "string", value: "N", description: "seconds of load per measurement", default: "2" },
  only: {
    type: "string",
    value: "NAME,NAME",
    description:
      "run only these scenarios and/or targets (scenario ids and target names mixed; targets alone keep " +
      "the scenarios that measure any of them; name every target a ratio needs, e.g. ringgate)",
    default: "all",
  },
  json: {
    type: "string",
    value: "FILE",
    description: "also write the summary, comparisons and target checks as JSON",
    default: "none",
  },
  profile: {
    type: "string",
    value: "DIR",
    description: "write CPU profiles of the ringgate target there",
    default: "none",
  },
} as const;

export const BENCH_CLI: CliSpec<typeof OPTIONS> = {
  usage: "bun run bench -- [options]",
  summary: "Gateway overhead: the same load direct to an emulated worker, via nginx and via ringgate, in one run.",
  options: OPTIONS,
  notes: [
    `scenarios: ${BENCH_SCENARIOS.map((s) => s.id).join(", ")}`,
    `targets: ${TARGET_NAMES.join(", ")}`,
    "example: bun run bench -- --quick --only stream32-64,ringgate,ringgate-no-continuation",
  ].join("\n"),
};

/** What one run measures: each scenario with the targets it measures in this run. */
export interface BenchSelection {
  scenarios: BenchScenario[];
  targets: TargetName[];
}

/** `--only`: scenario ids narrow the scenarios, target names the targets; throws naming an unknown entry. */
export function parseOnly(only: string | undefined): BenchSelection {
  const names = (only ?? "").split(",").map((name) => name.trim()).filter(Boolean);
  const isTarget = (name: string): name is TargetName => (TARGET_NAMES as readonly string[]).includes(name);
  const unknown = names.filter((name) => !isTarget(name) && !BENCH_SCENARIOS.some((s) => s.id === name));
  if (unknown.length > 0) throw new Error(`--only: unknown scenario or target ${unknown.join(", ")}`);
  const ids = names.filter((name) => !isTarget(name));
  const named = names.filter(isTarget);
  const targets = named.length > 0 ? named : [...TARGET_NAMES];
  const scenarios = BENCH_SCENARIOS.filter((s) => ids.length === 0 || ids.includes(s.id))
    .map((s) => ({ ...s, targets: s.targets.filter((t) => targets.includes(t)) }))
    .filter((s) => s.targets.length > 0);
  if (scenarios.length === 0) throw new Error(`--only: none of the named scenarios measures ${named.join(", ")}`);
  return { scenarios, targets };
}
