// Command line of `bun run bench`, apart from main.ts so the CLI test can read it without running a bench.

import type { CliSpec } from "../../src/process/cli.ts";
import { BENCH_SCENARIOS } from "./bench-scenarios.ts";

const OPTIONS = {
  quick: { type: "boolean", description: "one round and fewer probes: a smoke run, not a measurement" },
  rounds: { type: "string", value: "N", description: "rounds per scenario and target; medians are reported", default: "3 (1 with --quick)" },
  "duration-s": { type: "string", value: "N", description: "seconds of load per measurement", default: "2" },
  only: { type: "string", value: "id,id", description: "run only these scenarios", default: "all" },
  json: { type: "string", value: "FILE", description: "also write the summary and target checks as JSON", default: "none" },
  profile: { type: "string", value: "DIR", description: "write CPU profiles of the ringgate target there", default: "none" },
} as const;

export const BENCH_CLI: CliSpec<typeof OPTIONS> = {
  usage: "bun run bench -- [options]",
  summary: "Gateway overhead: the same load direct to an emulated worker, via nginx and via ringgate, in one run.",
  options: OPTIONS,
  notes: `scenarios: ${BENCH_SCENARIOS.map((s) => s.id).join(", ")}`,
};

