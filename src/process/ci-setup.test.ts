import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * A fresh machine runs `.ci/setup` and then the suite: every program a test or script starts must be
 * installed by a `need BINARY PACKAGE` line there (or be part of Debian's base system). This scans the
 * repository's spawn calls statically, so a new spawn of an uninstalled binary fails here, not on CI.
 */
const REPO_ROOT = join(import.meta.dir, "..", "..");
const SETUP = readFileSync(join(REPO_ROOT, ".ci", "setup"), "utf8");

/** In Debian's essential set (coreutils, libc-bin, bash, grep…), present on every base install. */
const BASE_SYSTEM = new Set(["bash", "sh", "getconf", "uname", "mkdir", "grep", "tee", "mktemp", "kill"]);

/**
 * Spawns whose command is computed: each names where its binaries come from. A new computed spawn
 * fails the scan until it is listed here with the binaries it can start.
 */
const COMPUTED: Record<string, { starts: string[]; why: string }> = {
  "loadtest/bench/managed-process.ts": { starts: [], why: "runs the `cmd: [...]` specs, which are scanned" },
  "deploy/local-stack.ts": { starts: ["bun", "redis-server"], why: "compose.cpu.yaml's commands and the image CMD" },
  "deploy/cpu-stack.test.ts": { starts: ["bun"], why: "the Dockerfile HEALTHCHECK (asserted to be bun there)" },
  "deploy/gpu-neighbour-wait.test.ts": { starts: ["sh", "python3"], why: "compose.yaml's light entrypoint (/bin/sh -c)" },
  "app/main.test.ts": { starts: ["bun"], why: "`bun app/main.ts` or `bun run start`" },
};

/** A call that starts a program, and the text right after it where the program's name sits. */
const SPAWN_PATTERNS: { pattern: RegExp; shell: boolean }[] = [
  { pattern: /Bun\.spawn(?:Sync)?\(\s*(?<command>[^,)]*)/g, shell: false },
  { pattern: /\bcmd:\s*(?<command>\[[^,\]]*)/g, shell: false },
  { pattern: /Bun\.\$`(?<command>[^`\s]*)/g, shell: true },
  { pattern: /Bun\.which\(\s*(?<command>[^)]*)\)/g, shell: false },
  { pattern: /\b(?:spawn|spawnSync|execFile|execFileSync|execSync)\(\s*(?<command>[^,)]*)/g, shell: false },
];

type Found = { binary: string } | { computed: string };

/** What each spawn in `source` starts: a binary name, or the expression when it is computed. */
function spawnedBinaries(source: string): Found[] {
  const found: Found[] = [];
  const seen = new Set<number>();
  for (const { pattern, shell } of SPAWN_PATTERNS) {
    for (const match of source.matchAll(pattern)) {
      const command = match.groups?.command ?? "";
      // `Bun.spawn(` also matches the generic `spawn(` pattern: count each call site once.
      const at = match.index + match[0].length - command.length;
      if (seen.has(at)) continue;
      seen.add(at);
      found.push(shell ? shellCommand(command) : firstArgument(command.trim(), source));
    }
  }
  return found;
}

function shellCommand(word: string): Found {
  return word.includes("${") ? { computed: word } : { binary: word };
}

function firstArgument(command: string, source: string): Found {
  const head = command.replace(/^\[\s*/, "");
  if (head === "process.execPath") return { binary: "bun" };
  const quoted = /^["'`]([^"'`\s$]+)/.exec(head);
  if (quoted?.[1]) return { binary: quoted[1] };
  // A constant in the same file: `const CHROMIUM = "chromium";`.
  const constant = /^[A-Za-z_]\w*$/.test(head) ? new RegExp(`const ${head}\\s*=\\s*["'\`]([^"'\`\\s$]+)["'\`]`).exec(source) : null;
  return constant?.[1] ? { binary: constant[1] } : { computed: head };
}

/** Binaries `.ci/setup` installs (its `need` lines) plus Bun itself. */
function installedBySetup(): Set<string> {
  const needs = [...SETUP.matchAll(/^need\s+(\S+)\s+\S+/gm)].map((match) => match[1] ?? "");
  return new Set(["bun", ...needs]);
}

function sourceFiles(): string[] {
  const glob = new Bun.Glob("**/*.{ts,js,sh}");
  const files = [...glob.scanSync({ cwd: REPO_ROOT, dot: true })].filter((file) => !file.includes("node_modules"));
  return [...files, ".ci/run", ".ci/setup"];
}

describe("the spawn scanner", () => {
  test.each<{ source: string; expected: Found[] }>([
    { source: 'Bun.spawn(["wrk", "-t2"], {})', expected: [{ binary: "wrk" }] },
    { source: 'Bun.spawnSync(["getconf", "CLK_TCK"])', expected: [{ binary: "getconf" }] },
    { source: "Bun.spawn([process.execPath, MAIN])", expected: [{ binary: "bun" }] },
    { source: 'spec = { cmd: ["nginx", "-p", dir] }', expected: [{ binary: "nginx" }] },
    { source: "await Bun.$`redis-cli -p ${port} ping`", expected: [{ binary: "redis-cli" }] },
    { source: 'Bun.which("docker-compose") !== null', expected: [{ binary: "docker-compose" }] },
    { source: 'execFileSync("chromium", ["--headless"])', expected: [{ binary: "chromium" }] },
    { source: "Bun.spawn(spec.cmd, { cwd })", expected: [{ computed: "spec.cmd" }] },
    { source: "Bun.spawn([executable, ...args])", expected: [{ computed: "executable" }] },
    { source: 'const CHROMIUM = "chromium";\nBun.spawn([CHROMIUM, "--headless"])', expected: [{ binary: "chromium" }] },
  ])("finds what $source starts", ({ source, expected }) => {
    expect(spawnedBinaries(source)).toEqual(expected);
  });
});

describe(".ci/setup installs every program the repository starts", () => {
  const installed = installedBySetup();
  const files = sourceFiles().filter((file) => file !== relative(REPO_ROOT, import.meta.path));

  test("each spawned binary has a `need` line or is part of Debian's base system", () => {
    const missing: string[] = [];
    for (const file of files) {
      for (const found of spawnedBinaries(readFileSync(join(REPO_ROOT, file), "utf8"))) {
        if ("computed" in found) {
          if (!COMPUTED[file]) missing.push(`${file}: computed command ${found.computed} (list it in COMPUTED)`);
          continue;
        }
        if (!installed.has(found.binary) && !BASE_SYSTEM.has(found.binary)) missing.push(`${file}: ${found.binary}`);
      }
    }
    for (const [file, { starts }] of Object.entries(COMPUTED)) {
      for (const binary of starts) if (!installed.has(binary) && !BASE_SYSTEM.has(binary)) missing.push(`${file}: ${binary}`);
    }
    expect(missing).toEqual([]);
  });

  test("each COMPUTED entry still matches a computed spawn (no stale exemptions)", () => {
    for (const file of Object.keys(COMPUTED)) {
      const found = spawnedBinaries(readFileSync(join(REPO_ROOT, file), "utf8"));
      expect(found.some((entry) => "computed" in entry), file).toBe(true);
    }
  });

  test("after setup, every binary it promises is on PATH", () => {
    const absent = [...installed].filter((binary) => Bun.which(binary) === null);
    expect(absent, "run `bash .ci/setup`").toEqual([]);
  });
});
