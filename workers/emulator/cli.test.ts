import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { freePort } from "../../src/testing/free-port.ts";
import { camelCase, FLAG_TABLE } from "./cli-flags.ts";
import { emulatorOptionsInput } from "./options.ts";
import { rawPost } from "./testing/raw-http.ts";

/** The CLI as a process: flag validation, boot delay, --refuse, --die-after, and the harness. */

const MAIN_PATH = join(import.meta.dir, "main.ts");
const started: EmulatorProcess[] = [];

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
});

async function track(args: string[]): Promise<EmulatorProcess> {
  const emulator = await spawnEmulator(args);
  started.push(emulator);
  return emulator;
}

const reachable = (url: string) =>
  fetch(`${url}/health`).then(
    (response) => response.status,
    () => "refused" as const,
  );

const BAD_FLAGS: readonly (readonly [string, readonly string[], string])[] = [
  ["unknown flag", ["--bogus", "1"], "unknown flag --bogus"],
  ["non-numeric number", ["--max-num-seqs", "lots"], "--max-num-seqs expects a number"],
  ["invalid profile", ["--profile", "huge"], "--profile"],
  ["invalid fault", ["--fault", "explode"], "unknown fault"],
];

describe("emulator CLI", () => {
  test.each(BAD_FLAGS)("%s exits 2 with a clear message and the usage", async (_name, args, message) => {
    const proc = Bun.spawn([process.execPath, MAIN_PATH, ...args], { stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).toContain("usage: bun workers/emulator/main.ts");
  });

  test("--help lists every flag with its meaning and default, and exits 0", async () => {
    const proc = Bun.spawn([process.execPath, MAIN_PATH, "--help"], { stdout: "pipe", stderr: "pipe" });
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(0);
    for (const row of FLAG_TABLE) {
      const line = stdout.split("\n").find((candidate) => candidate.trimStart().startsWith(`--${row.name} `) || candidate.trim() === `--${row.name}`);
      expect(line ?? `missing --${row.name}`).toContain(`${row.meaning}`);
      expect(line).toContain(`[default: ${row.defaultText}]`);
    }
  });

  test("the flag table, the options and the README cannot drift apart", () => {
    const optionKeys = Object.keys(emulatorOptionsInput.shape).sort();
    expect(FLAG_TABLE.map((row) => camelCase(row.name)).sort()).toEqual(optionKeys);
    const readme = readFileSync(join(import.meta.dir, "README.md"), "utf8");
    expect(FLAG_TABLE.filter((row) => !readme.includes(`--${row.name}`)).map((row) => row.name)).toEqual([]);
  });

  test("spawnEmulator with vLLM-style flags: listening line, /health 200 empty, /v1/models with the served name", async () => {
    const vllmFlags = ["--enable-auto-tool-choice", "--tool-call-parser", "hermes", "--quantization", "awq_marlin", "--enable-prefix-caching"];
    const emulator = await track(["--profile", "light", "--max-model-len", "8192", ...vllmFlags]);
    const health = await fetch(`${emulator.url}/health`);
    expect([health.status, await health.text()]).toEqual([200, ""]);
    const models = (await (await fetch(`${emulator.url}/v1/models`)).json()) as { data: { id: string; root: string; max_model_len: number }[] };
    expect(models.data[0]).toMatchObject({ id: "light", root: "Qwen/Qwen3-8B-AWQ", max_model_len: 8192 });
  });

  test.each([
    [[], "0.11.0"],
    [["--wire-profile", "v0.11"], "0.11.0"],
    [["--wire-profile", "v0.10"], "0.11.0"],
    [["--wire-profile", "legacy"], "0.10.0"],
  ] as const)("wire profile %p: /version says %s", async (args, version) => {
    const emulator = await track([...args]);
    expect(await (await fetch(`${emulator.url}/version`)).json()).toEqual({ version });
  });

  test("--boot-delay-ms: connection refused until loaded, then 200", async () => {
    const port = await freePort();
    const proc = Bun.spawn([process.execPath, MAIN_PATH, "--port", String(port), "--boot-delay-ms", "1500"], { stdout: "ignore", stderr: "ignore" });
    try {
      const url = `http://127.0.0.1:${port}`;
      expect(await reachable(url)).toBe("refused");
      const endMs = performance.now() + 20_000;
      let status = await reachable(url);
      while (status !== 200 && performance.now() < endMs) {
        await Bun.sleep(50);
        status = await reachable(url);
      }
      expect(status).toBe(200);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  test("spawnEmulator honours an explicit --port (restart on the same address)", async () => {
    const port = await freePort();
    const first = await track(["--port", String(port)]);
    expect(first.url).toBe(`http://127.0.0.1:${port}`);
    await first.stop();
    expect(await reachable(first.url)).toBe("refused");
    const second = await track(["--port", String(port)]);
    expect(await reachable(second.url)).toBe(200);
  });

  test("--refuse never listens", async () => {
    const emulator = await track(["--refuse"]);
    expect(await reachable(emulator.url)).toBe("refused");
    expect(emulator.proc.exitCode).toBeNull();
  });

  test("--die-after 1: in-band 400 + [DONE] after the first token, /health 503, then the process exits 1", async () => {
    const emulator = await track(["--die-after", "1", "--speed", "20", "--death-exit-ms", "1000"]);
    const body = JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }], stream: true });
    const exchange = await rawPost(emulator.url, "/v1/chat/completions", body);
    expect(exchange.head).toStartWith("HTTP/1.1 200");
    expect(exchange.body).toContain('"type": "BadRequestError", "param": null, "code": 400}}\n\ndata: [DONE]\n\n');
    expect(exchange.complete).toBe(true);
    expect(await reachable(emulator.url)).toBe(503);
    expect(await emulator.proc.exited).toBe(1);
  });

  test("--stay-after-death: the dead engine keeps answering /health 503 and JSON 500s", async () => {
    const emulator = await track(["--die-after", "1", "--speed", "20", "--death-exit-ms", "0", "--stay-after-death"]);
    const body = JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hi" }] });
    const post = () => fetch(`${emulator.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect((await post()).status).toBe(500);
    await Bun.sleep(300);
    expect(await reachable(emulator.url)).toBe(503);
    const again = await post();
    expect([again.status, ((await again.json()) as { error: { type: string } }).error.type]).toEqual([500, "Internal Server Error"]);
    expect(emulator.proc.exitCode).toBeNull();
  });
});
