import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { flagValue, loadCompose, mergeCompose, readEnvFile, REPO_ROOT, workerServices } from "./compose-model.ts";

/**
 * The A/B overrides (docs/runbook.md §7, procedure 1): merged over their base file they move heavy-1 to
 * the candidate model behind pool heavy-b and split `heavy` 90/10 with a guard, changing nothing else.
 */

const envExample = readEnvFile(".env.example");
const pairs = [
  { base: "compose.yaml", override: "compose.ab.yaml" },
  { base: "compose.cpu.yaml", override: "compose.cpu.ab.yaml" },
];
const envs = [
  { name: "inline defaults", env: {} },
  { name: ".env.example", env: envExample },
  { name: "a chosen candidate", env: { ...envExample, HEAVY_B_MODEL: "org/candidate-14b-awq" } },
];
const cases = pairs.flatMap((pair) => envs.map((env) => ({ ...pair, ...env })));

/** `args` without the values of the given flags, to compare the rest. */
const without = (args: readonly string[], flags: string[]) =>
  args.filter((arg, index) => !flags.includes(arg) && !flags.includes(args[index - 1] ?? ""));

describe.each(cases)("$override over $base with $name", ({ base, override, env }) => {
  const before = loadCompose(base, env);
  const after = mergeCompose(before, loadCompose(override, env));
  const candidate = env.HEAVY_B_MODEL ?? "Qwen/Qwen3-14B-AWQ";

  test("heavy-1 serves HEAVY_B_MODEL as heavy-b with every other flag of compose's heavy replicas", () => {
    const command = after.services["heavy-1"]?.command ?? [];
    expect(flagValue(command, "--model")).toBe(candidate);
    expect(flagValue(command, "--served-model-name")).toBe("heavy-b");
    const baseline = before.services["heavy-1"]?.command ?? [];
    const model = ["--model", "--served-model-name"];
    expect(without(command, model)).toEqual(without(baseline, model));
  });

  test("only heavy-1 and the gateway change; heavy-1 keeps its GPU, volumes and restart policy", () => {
    const changed = Object.keys(after.services).filter(
      (name) => JSON.stringify(after.services[name]) !== JSON.stringify(before.services[name]),
    );
    expect(changed.sort()).toEqual(["gateway", "heavy-1"]);
    const { command: _a, ...heavy1 } = after.services["heavy-1"] ?? {};
    const { command: _b, ...baseHeavy1 } = before.services["heavy-1"] ?? {};
    expect(heavy1).toEqual(baseHeavy1);
  });

  test("the gateway's config splits heavy 90/10 between heavy-0 and heavy-1 with a guard on heavy-b", () => {
    const gateway = after.services.gateway;
    const environment = { ...gateway?.environment };
    const mount = gateway?.volumes?.find((volume) => volume.split(":")[1] === environment.CONFIG);
    const config = loadConfig({ ...environment, CONFIG: resolve(REPO_ROOT, mount?.split(":")[0] ?? "missing") });
    expect(Object.keys(config.pools).sort()).toEqual(["heavy-a", "heavy-b", "light"]);
    expect(config.pools["heavy-a"]?.workers).toEqual(["http://heavy-0:8000"]);
    expect(config.pools["heavy-b"]?.workers).toEqual(["http://heavy-1:8000"]);
    expect(config.pools.light?.workers).toEqual(before.services.gateway?.environment?.POOL_LIGHT?.split(",") ?? []);
    const servedName = (command: string[]) => flagValue(command, "--served-model-name");
    const served = new Map(
      workerServices(after).map(([name, { command }]) => [`http://${name}:8000`, servedName(command)]),
    );
    // Each pool's upstreamModel is what its workers serve, so the probes' model check passes only there.
    for (const [name, pool] of Object.entries(config.pools)) {
      for (const worker of pool.workers) expect(served.get(worker), `${name} ${worker}`).toBe(pool.upstreamModel);
    }
    const heavy = config.models.heavy;
    expect(heavy && "variants" in heavy ? heavy.variants.map((v) => [v.pool, v.weight]) : []).toEqual([
      ["heavy-a", 90],
      ["heavy-b", 10],
    ]);
    const guarded = heavy && "variants" in heavy ? heavy.variants.find((v) => v.pool === "heavy-b")?.guard : undefined;
    expect(guarded?.minSamples).toBeGreaterThanOrEqual(100);
    // No fallback: a failing candidate must show in its guard and `stats --compare`, not as light's answers.
    expect(config.pools["heavy-b"]?.fallback).toEqual([]);
    expect(Object.keys(config.metrics.workerGpus).sort()).toEqual([...served.keys()].sort());
  });
});
