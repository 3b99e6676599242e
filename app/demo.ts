import { randomBytes } from "node:crypto";
import { parseConfig } from "../src/config/load.ts";
import { configFromEnvOrExit, runUntilSignalled, threadsFromEnvOrExit, warnIfFetchConcurrencyUnset } from "./main.ts";
import { parseCommandLine } from "../src/process/cli.ts";
import { DEMO_CLI } from "../src/process/gateway-cli.ts";
import { type EmulatorProcess, spawnEmulator } from "../src/testing/emulator-process.ts";

/**
 * `bun run demo`: the gateway on PORT (default 8000) in front of four emulated vLLM workers on
 * loopback — heavy ×2, light ×2 with Qwen3 thinking behaviour — with the production pool config
 * (light injects enable_thinking=false, heavy falls back to light). No GPU, Docker or Redis needed.
 */
const WORKERS = [
  { pool: "heavy", args: ["--profile", "heavy"] },
  { pool: "heavy", args: ["--profile", "heavy"] },
  { pool: "light", args: ["--profile", "light", "--reasoning", "qwen3"] },
  { pool: "light", args: ["--profile", "light", "--reasoning", "qwen3"] },
] as const;

async function startWorkers(): Promise<EmulatorProcess[]> {
  return Promise.all(WORKERS.map((worker) => spawnEmulator(worker.args)));
}

function demoConfigFile(workers: EmulatorProcess[]): string {
  const urls = (pool: string) => workers.filter((_, index) => WORKERS[index]?.pool === pool).map((worker) => worker.url);
  const config = {
    models: {
      "Qwen/Qwen2.5-14B-Instruct-AWQ": { route: "heavy" },
      "Qwen/Qwen3-8B-AWQ": { route: "light" },
    },
    pools: {
      heavy: { workers: urls("heavy"), fallback: ["light"] },
      light: { workers: urls("light"), chatTemplateKwargs: { enable_thinking: false } },
    },
  };
  parseConfig(config);
  const path = `${process.env.TMPDIR ?? "/tmp"}/ringgate-demo-${process.pid}.json`;
  Bun.write(path, JSON.stringify(config, null, 2));
  return path;
}

parseCommandLine(DEMO_CLI, process.argv.slice(2));
const workers = await startWorkers();
process.on("exit", () => {
  for (const worker of workers) worker.kill("SIGKILL");
});
// The demo always has an admin key, so /admin and the dashboard work as in production; the link carries it.
const adminKey = process.env.ADMIN_API_KEY || randomBytes(12).toString("base64url");
const env = { PORT: "8000", ...process.env, ADMIN_API_KEY: adminKey, CONFIG: demoConfigFile(workers) };
const config = configFromEnvOrExit(env);
warnIfFetchConcurrencyUnset();
const gateway = await runUntilSignalled(config, threadsFromEnvOrExit(env));
const port = gateway.port;
console.log(`
ringgate demo: http://localhost:${port}  (workers: ${workers.map((worker) => worker.url).join(", ")})
Try:
  curl -s http://localhost:${port}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"light","messages":[{"role":"user","content":"Greet the traveller"}]}'
  curl -sN http://localhost:${port}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"heavy","stream":true,"messages":[{"role":"user","content":"Tell a short tale"}]}'
Docs: http://localhost:${port}/docs   Readiness: http://localhost:${port}/ready
Dashboard: http://localhost:${port}/dashboard?key=${encodeURIComponent(adminKey)}
Admin: curl -s http://localhost:${port}/admin/pools -H 'authorization: Bearer ${adminKey}'
`);
