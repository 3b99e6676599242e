// CI's burst: the real runner CLI against an in-process gateway in front of four emulated workers.
// Emulators run 10× faster than an A40 with only 4 sequences per batch, so a spike of a few dozen
// requests must queue inside the workers; the promise is that it is absorbed, not rejected.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { startGateway, type GatewayHandle } from "../../app/gateway-app.ts";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import type { RunReport } from "./build-report.ts";

const EMULATOR_ARGS = ["--speed", "10", "--max-num-seqs", "4"];
const WORKERS = [
  ["--served-model-name", "heavy", "--profile", "heavy"],
  ["--served-model-name", "heavy", "--profile", "heavy"],
  ["--served-model-name", "light", "--profile", "light"],
  ["--served-model-name", "light", "--profile", "light"],
] as const;

let emulators: EmulatorProcess[] = [];
let gateway: GatewayHandle | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "burst-test-"));
  emulators = await Promise.all(WORKERS.map((args) => spawnEmulator([...args, ...EMULATOR_ARGS])));
  const urls = (from: number) => emulators.slice(from, from + 2).map((e) => e.url).join(",");
  const config = loadConfig({ POOL_HEAVY: urls(0), POOL_LIGHT: urls(2), LOG_LEVEL: "warn" });
  gateway = await startGateway({ config, port: 0, hostname: "127.0.0.1" });
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(emulators.map((e) => e.stop()));
  rmSync(dir, { recursive: true, force: true });
});

test("a short burst through the gateway: zero errors, batching speed-up, queueing in the workers", async () => {
  const jsonPath = join(dir, "burst.json");
  const runner = Bun.spawn(
    [
      process.execPath,
      join(import.meta.dir, "main.ts"),
      "burst",
      "--target", gateway?.url ?? "",
      "--duration-scale", "0.15",
      "--worker-metrics", emulators.map((e) => e.url).join(","),
      // The waiting gauge is instantaneous: on loaded CI cores a 100 ms poll could miss a short queue.
      "--worker-metrics-interval-ms", "20",
      "--min-speedup", "3",
      "--min-waiting", "1",
      "--request-timeout-s", "20",
      "--drain-timeout-s", "15",
      "--json", jsonPath,
    ],
    // As `bun run loadtest` starts it: Bun's fetch reads its concurrency limit only at process start.
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "65535" } },
  );
  const [summary, stderr, exitCode] = await Promise.all([new Response(runner.stdout).text(), new Response(runner.stderr).text(), runner.exited]);
  const report = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, "utf8")) as RunReport) : undefined;
  // Failed thresholds (and stderr on a crash) are in the compared object, so a CI failure explains itself.
  const outcome = { exitCode, failed: report?.checks.filter((c) => !c.ok) ?? "no report written", stderr: exitCode === 0 ? "" : stderr };
  expect(outcome).toEqual({ exitCode: 0, failed: [], stderr: "" });
  if (report === undefined) throw new Error("unreachable: no report");
  expect(summary).toContain("thresholds: all passed");
  expect(report.fired).toBeGreaterThan(100);
  expect(report.errors).toBe(0);
  expect(report.speedupVsSingleStream ?? 0).toBeGreaterThanOrEqual(3);
  expect(Math.max(...report.workers.map((w) => w.maxWaiting))).toBeGreaterThan(0);
  expect(report.pools.map((p) => p.pool).sort()).toEqual(["heavy", "light"]);
}, 40_000);
