// Entry point of `bun run loadtest`. Bun's fetch allows only 256 concurrent requests per process
// unless BUN_CONFIG_MAX_HTTP_REQUESTS is set at start-up: the package script sets it.

import { fetchConcurrencyWarning } from "../../src/process/fetch-concurrency.ts";
import { formatSummary } from "./print-summary.ts";
import { parseCli } from "./cli-args.ts";
import { runScenario } from "./run-scenario.ts";
import { sessionsMain } from "./sessions-cli.ts";
import { measureTtftPrediction } from "./ttft-prediction.ts";

async function main(): Promise<number> {
  // The session workload is closed-loop conversations, not open-loop arrivals: its own options.
  const first = process.argv[2];
  if (first === "sessions" || first === "sessions-compare") return sessionsMain(process.argv.slice(2));
  if (first === "ttft-prediction") return (await measureTtftPrediction()).samples > 0 ? 0 : 1;
  const cli = parseCli(process.argv.slice(2));
  const warning = fetchConcurrencyWarning();
  if (warning) console.error(`loadtest: ${warning}`);
  for (const action of cli.run.scenario.operatorActions) {
    console.log(`operator: at t=${action.atS * cli.run.durationScale} s run: ${action.command}`);
  }
  const report = await runScenario(cli.run);
  console.log(formatSummary(report));
  if (cli.jsonPath !== undefined) await Bun.write(cli.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  return report.passed ? 0 : 1;
}

process.exit(await main());
