import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/testing/free-port.ts";
import { waitFor } from "../src/testing/poll.ts";
import { loadCompose, readEnvFile } from "./compose-model.ts";

/**
 * compose.yaml's light entrypoint run for real with /bin/sh: it must not start vLLM until the heavy
 * replica on its GPU answers /health 200, on every container start (depends_on orders only `up`).
 * A `python3` shim on PATH passes the health check's `-c` to the real interpreter and reports the
 * `-m vllm...` start instead of loading a model.
 */
const compose = loadCompose("compose.yaml", readEnvFile(".env.example"));
const light = compose.services["light-0"];
const REAL_PYTHON = Bun.which("python3") ?? "python3";
const shimDir = mkdtempSync(join(tmpdir(), "ringgate-python-shim-"));
writeFileSync(join(shimDir, "python3"), `#!/bin/sh\nif [ "$1" = "-m" ]; then echo "vllm started: $*"; exit 0; fi\nexec "${REAL_PYTHON}" "$@"\n`);
chmodSync(join(shimDir, "python3"), 0o755);

afterAll(() => rmSync(shimDir, { recursive: true, force: true }));

function runEntrypoint(healthUrl: string, waitS: string) {
  const command = [...(light?.entrypoint ?? []), ...(light?.command ?? [])];
  const proc = Bun.spawn(command, {
    env: { PATH: `${shimDir}:${process.env.PATH ?? ""}`, GPU_NEIGHBOUR_HEALTH_URL: healthUrl, GPU_NEIGHBOUR_WAIT_S: waitS },
    stdout: "pipe",
    stderr: "pipe",
  });
  const chunks: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) chunks.push(decoder.decode(chunk, { stream: true }));
  })();
  return { proc, output: () => chunks.join("") };
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe("a light replica after a reboot", () => {
  test("waits while its GPU neighbour refuses or answers 503, starts vLLM with its command once it answers 200", async () => {
    const port = await freePort();
    const { proc, output } = runEntrypoint(`http://127.0.0.1:${port}/health`, "600");
    try {
      await waitFor(() => count(output(), "waiting for") >= 2, 15_000, "two refused polls");
      let status = 503;
      const neighbour = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(null, { status }) });
      try {
        const polls = count(output(), "waiting for");
        await waitFor(() => count(output(), "waiting for") >= polls + 2, 15_000, "two polls answered 503");
        expect(output()).not.toContain("vllm started");
        status = 200;
        expect(await proc.exited).toBe(0);
      } finally {
        await neighbour.stop(true);
      }
      const started = output().split("\n").find((line) => line.startsWith("vllm started:")) ?? "";
      expect(started).toBe(`vllm started: -m vllm.entrypoints.openai.api_server ${(light?.command ?? []).join(" ")}`);
    } finally {
      proc.kill("SIGKILL");
    }
  }, 40_000);

  test("starts anyway once GPU_NEIGHBOUR_WAIT_S has passed without an answer, and says so", async () => {
    const { proc, output } = runEntrypoint(`http://127.0.0.1:${await freePort()}/health`, "0");
    expect(await proc.exited).toBe(0);
    expect(output()).toContain("starting anyway");
    expect(output()).toContain("vllm started: -m vllm.entrypoints.openai.api_server");
  });
});
