import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BENCH_CLI } from "../../loadtest/bench/bench-cli.ts";
import { LOADTEST_CLI } from "../../loadtest/runner/cli-args.ts";
import { STATS_CLI } from "../metrics/stats-cli.ts";
import { type CliOption, type CliSpec, formatUsage } from "./cli.ts";
import { DEMO_CLI, START_CLI } from "./gateway-cli.ts";

/**
 * Every `bun run <command>` as an operator types it, through package.json: `--help` prints each option
 * with its meaning and default and exits 0 without starting anything; a wrong option exits 2 with the
 * usage on stderr.
 */
const REPO_ROOT = join(import.meta.dir, "..", "..");
type AnySpec = CliSpec<Record<string, CliOption>>;

/** The emulator's usage is its own (workers/emulator/main.ts); only the shared contract is checked here. */
const COMMANDS: { command: string; spec?: AnySpec }[] = [
  { command: "start", spec: START_CLI },
  { command: "demo", spec: DEMO_CLI },
  { command: "emulator" },
  { command: "loadtest", spec: LOADTEST_CLI },
  { command: "stats", spec: STATS_CLI },
  { command: "bench", spec: BENCH_CLI },
];

async function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // PORT points at a port nothing may bind: a command that wrongly starts a server fails loudly.
  const proc = Bun.spawn([process.execPath, "run", command, "--", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: "1", POOL_HEAVY: "http://127.0.0.1:9" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  return { code, stdout, stderr };
}

describe("every CLI", () => {
  test.each(COMMANDS)("bun run $command -- --help prints every option and exits 0", async ({ command, spec }) => {
    const { code, stdout } = await run(command, ["--help"]);
    expect(code).toBe(0);
    expect(stdout).toStartWith("usage:");
    if (!spec) return;
    expect(stdout.trim()).toBe(formatUsage(spec));
    for (const [name, option] of Object.entries(spec.options)) {
      const line = stdout.split("\n").find((text) => new RegExp(`^ {2}(-\\w, | {4})--${name}( |$)`).test(text)) ?? "";
      expect(line, `--${name}`).toContain(option.description);
      expect(line, `--${name} default`).toMatch(/\(default: .+\)$/);
    }
  });

  test.each(COMMANDS)("bun run $command -- --no-such-option exits 2 with the usage", async ({ command }) => {
    const { code, stdout, stderr } = await run(command, ["--no-such-option"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--no-such-option");
    expect(stderr).toContain("usage:");
    expect(stdout).toBe("");
  });
});

describe("formatUsage", () => {
  test("aligns flags, shows values and defaults, flags default to off, help has none", () => {
    const spec: AnySpec = {
      usage: "x -- [options]",
      summary: "Does x.",
      options: {
        window: { type: "string", value: "DURATION", description: "how far back", default: "5m" },
        json: { type: "boolean", description: "JSON out" },
      },
      notes: "environment: none",
    };
    expect(formatUsage(spec)).toBe(
      [
        "usage: x -- [options]",
        "Does x.",
        "",
        "options:",
        "      --window DURATION  how far back (default: 5m)",
        "      --json             JSON out (default: off)",
        "  -h, --help             print this help and exit",
        "",
        "environment: none",
      ].join("\n"),
    );
  });
});
