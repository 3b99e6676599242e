import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const LOG_MODULE = join(import.meta.dir, "log.ts");

/** Runs a script that logs through the gateway's logger, with stdout a pipe as under Docker. */
function runLogging(body: string): { stdout: ReadableStream<Uint8Array>; exited: Promise<number>; kill(): void } {
  const script = `import { logger } from ${JSON.stringify(LOG_MODULE)};\n${body}`;
  const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "ignore", env: { ...process.env, LOG_LEVEL: "info" } });
  return { stdout: child.stdout, exited: child.exited, kill: () => child.kill() };
}

async function firstLine(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text.split("\n")[0] ?? "";
}

describe("logger output buffering", () => {
  test("a lone line reaches stdout while the process is still running", async () => {
    // The process stays up 20 s: the line can only arrive through the periodic flush.
    const { stdout, exited, kill } = runLogging(`logger.info({ requestId: "r1" }, "request");\nsetTimeout(() => process.exit(0), 20_000);`);
    const startedMs = performance.now();
    const line = await firstLine(stdout);
    expect(JSON.parse(line)).toMatchObject({ msg: "request", requestId: "r1", service: "ringgate" });
    expect(performance.now() - startedMs).toBeLessThan(10_000);
    kill();
    await exited;
  });

  test.each([
    ["process.exit", `process.exit(0);`],
    ["a fatal error", `setTimeout(() => { throw new Error("fatal"); }, 0);`],
    ["an empty event loop", ``],
  ])("buffered lines are written when the process ends by %s", async (_name, ending) => {
    const { stdout, exited } = runLogging(`for (let i = 0; i < 3; i++) logger.info({ n: i }, "line");\n${ending}`);
    const [text] = await Promise.all([new Response(stdout).text(), exited]);
    const lines = text.trim().split("\n").map((line) => JSON.parse(line) as { n: number });
    expect(lines.map((line) => line.n)).toEqual([0, 1, 2]);
  });
});
