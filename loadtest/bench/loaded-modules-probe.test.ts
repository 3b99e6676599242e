import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadedModules } from "./bench-stack.ts";

const REPO_ROOT = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "modules-probe-"));
const children: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A Bun process with the probe preloaded that runs `code` and then idles until killed. */
async function probed(name: string, code: string) {
  const modulesPath = join(dir, `${name}.json`);
  const script = `${code}; console.log("up"); setInterval(() => {}, 1000);`;
  const probe = join(import.meta.dir, "loaded-modules-probe.ts");
  const child = Bun.spawn([process.execPath, "--preload", probe, "--eval", script], {
    cwd: REPO_ROOT,
    env: { ...process.env, RINGGATE_BENCH_MODULES_FILE: modulesPath },
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(child);
  // The script has run (and the probe's handler is installed) once it says so.
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  return { name: "ringgate" as const, url: "", proxyPid: child.pid, modulesPath };
}

describe("the loaded-modules probe", () => {
  test("lists what the process imported, and only that", async () => {
    const withSdk = await probed("with", `await import("@opentelemetry/resources")`);
    const without = await probed("without", `await import("zod")`);
    const otel = (paths: string[] | undefined) =>
      (paths ?? []).filter((path) => path.includes("/@opentelemetry/resources/"));
    const [a, b] = [await loadedModules(withSdk), await loadedModules(without)];
    expect(otel(a).length).toBeGreaterThan(0);
    expect(otel(b)).toEqual([]);
    expect((b ?? []).some((path) => path.includes("/zod/"))).toBe(true);
  });

  test("a target without the probe has no list", async () => {
    expect(await loadedModules({ name: "nginx", url: "", proxyPid: process.pid })).toBeUndefined();
  });
});
