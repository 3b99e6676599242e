import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEnvFile, REPO_ROOT, referencedVariables } from "./compose-model.ts";

const COMPOSE_FILES = ["compose.yaml", "compose.cpu.yaml"];
/** Overrides for the runbook's A/B procedure, each validated merged over its base file. */
const OVERRIDES = [
  ["compose.yaml", "compose.ab.yaml"],
  ["compose.cpu.yaml", "compose.cpu.ab.yaml"],
];
const hasDockerCompose = Bun.which("docker-compose") !== null;
// Python start-ups share two loaded cores; the first case waits for most of them.
const TEST_TIMEOUT_MS = 30_000;

describe(".env.example documents every tunable", () => {
  const documented = readEnvFile(".env.example");
  const references = [...COMPOSE_FILES, ...OVERRIDES.map(([, override]) => override ?? "")].flatMap((file) =>
    referencedVariables(file),
  );

  test("each variable a compose file reads is in .env.example with the same default", () => {
    for (const [name, fallback] of references) {
      expect(documented[name], `${name} missing from .env.example`).toBeDefined();
      expect(documented[name], `${name} default`).toBe(fallback);
    }
  });

  test("each variable in .env.example is read by a compose file", () => {
    const referenced = new Set(references.map(([name]) => name));
    for (const name of Object.keys(documented)) expect(referenced.has(name), `${name} is unused`).toBe(true);
  });
});

describe.skipIf(!hasDockerCompose)("docker-compose config accepts every file and profile", () => {
  const scratch = mkdtempSync(join(tmpdir(), "ringgate-compose-"));
  const emptyEnv = join(scratch, "empty.env");
  writeFileSync(emptyEnv, "");
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  // Every file × profile; the env file alternates so both the documented values and the inline
  // defaults are validated without paying for every combination.
  const cases = [
    ...COMPOSE_FILES.flatMap((file) => [
      { file, profile: [], envFile: ".env.example" },
      { file, profile: ["--profile", "observability"], envFile: emptyEnv },
    ]),
    ...OVERRIDES.map(([base, override]) => ({ file: `${base} -f ${override}`, profile: [], envFile: ".env.example" })),
  ];

  // Each run starts a Python interpreter; run them side by side and let the cases await their own.
  const runs = cases.map(({ file, profile, envFile }) => {
    const files = file.split(" -f ").flatMap((name) => ["-f", name]);
    const child = Bun.spawn(["docker-compose", "--env-file", envFile, ...files, ...profile, "config", "--quiet"], {
      cwd: REPO_ROOT,
      stdout: "ignore",
      stderr: "pipe",
    });
    return Promise.all([new Response(child.stderr).text(), child.exited]);
  });

  test.each(cases.map((testCase, index) => ({ ...testCase, index })))("$file $profile with $envFile", async ({ index }) => {
    const [stderr, exitCode] = (await runs[index]) ?? ["not run", -1];
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
  }, TEST_TIMEOUT_MS);
});
