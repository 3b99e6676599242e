// Entry point of `bun run loadtest`. Bun's fetch allows only 256 concurrent requests per process
// unless BUN_CONFIG_MAX_HTTP_REQUESTS is set at start-up, so without it we re-spawn ourselves with it.

import { formatSummary } from "./print-summary.ts";
import { parseCli } from "./cli-args.ts";
import { runScenario } from "./run-scenario.ts";

const MAX_HTTP_REQUESTS = "16384";

async function respawnWithFetchLimit(): Promise<number> {
  const child = Bun.spawn([process.execPath, import.meta.path, ...process.argv.slice(2)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_HTTP_REQUESTS },
    stdio: ["inherit", "inherit", "inherit"],
  });
  return await child.exited;
}

async function main(): Promise<number> {
  if (process.env.BUN_CONFIG_MAX_HTTP_REQUESTS === undefined) return await respawnWithFetchLimit();
  let cli;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  for (const action of cli.run.scenario.operatorActions) {
    console.log(`operator: at t=${action.atS * cli.run.durationScale} s run: ${action.command}`);
  }
  const report = await runScenario(cli.run);
  console.log(formatSummary(report));
  if (cli.jsonPath !== undefined) await Bun.write(cli.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  return report.passed ? 0 : 1;
}

process.exit(await main());
