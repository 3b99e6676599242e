import { describe, expect, test } from "bun:test";
import { dirname, join, relative } from "node:path";

/**
 * The layers: src/ (the core) ← routes/ (HTTP) ← app/ (the composition root: main, demo, threads).
 * Enforced on every import a file writes, type-only ones included (they tie the compile graph too):
 * - production code under src/ (every src/ file except `*.test.ts` and src/testing/**) imports nothing
 *   from routes/, app/ or src/testing/ — so it cannot reach routes/ transitively either;
 * - non-test files under routes/ import nothing from app/ or src/testing/.
 * Tests and the test harness (src/testing/) use the composed gateway, so they may import app/.
 */
const REPO_ROOT = join(import.meta.dir, "..");

/** Every module specifier in a source text: `from "x"`, `import "x"`, `import("x")`, type-only included. */
function importSpecifiers(source: string): string[] {
  const pattern = /\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g;
  return [...source.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? "");
}

function isTestCode(file: string): boolean {
  return file.endsWith(".test.ts") || file.startsWith("src/testing/");
}

/** What a layer may not import, or undefined when the file is not held to a rule. */
function forbiddenFor(file: string): string[] | undefined {
  if (isTestCode(file)) return undefined;
  if (file.startsWith("src/")) return ["routes/", "app/", "src/testing/"];
  if (file.startsWith("routes/")) return ["app/", "src/testing/"];
  return undefined;
}

/** The rule's breaches in one file, as `file -> imported path` (paths relative to the repo root). */
function breaches(file: string, source: string): string[] {
  const forbidden = forbiddenFor(file);
  if (!forbidden) return [];
  return importSpecifiers(source)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => relative(REPO_ROOT, join(REPO_ROOT, dirname(file), specifier)))
    .filter((target) => forbidden.some((prefix) => target.startsWith(prefix)))
    .map((target) => `${file} -> ${target}`);
}

describe("the import scan", () => {
  test.each<{ file: string; source: string; found: string[] }>([
    {
      file: "src/admin/x.ts",
      source: 'import { a } from "../../routes/admin-routes.ts";',
      found: ["src/admin/x.ts -> routes/admin-routes.ts"],
    },
    {
      file: "src/x.ts",
      source: 'import type { A } from "../routes/context.ts";',
      found: ["src/x.ts -> routes/context.ts"],
    },
    {
      file: "src/x.ts",
      source: 'export { b } from "../app/gateway-app.ts";',
      found: ["src/x.ts -> app/gateway-app.ts"],
    },
    { file: "src/x.ts", source: 'await import("../routes/app.ts");', found: ["src/x.ts -> routes/app.ts"] },
    { file: "src/x.ts", source: 'import "./testing/poll.ts";', found: ["src/x.ts -> src/testing/poll.ts"] },
    { file: "routes/x.ts", source: 'import { s } from "../app/main.ts";', found: ["routes/x.ts -> app/main.ts"] },
    { file: "routes/x.ts", source: 'import { c } from "../src/config/load.ts";', found: [] },
    { file: "src/x.test.ts", source: 'import { s } from "../app/gateway-app.ts";', found: [] },
    { file: "src/testing/x.ts", source: 'import { s } from "../../app/gateway-app.ts";', found: [] },
    { file: "src/x.ts", source: '// see routes/on-error.ts\nimport { z } from "zod";', found: [] },
  ])("$file: $source", ({ file, source, found }) => {
    expect(breaches(file, source)).toEqual(found);
  });
});

test("src/ never imports routes/ or app/, and routes/ never imports app/", async () => {
  const files = [...new Bun.Glob("{src,routes}/**/*.ts").scanSync({ cwd: REPO_ROOT })];
  expect(files.length).toBeGreaterThan(100);
  const found: string[] = [];
  for (const file of files) found.push(...breaches(file, await Bun.file(join(REPO_ROOT, file)).text()));
  expect(found).toEqual([]);
});
