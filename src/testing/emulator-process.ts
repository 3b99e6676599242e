import type { Subprocess } from "bun";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * Test harness: runs `bun workers/emulator/main.ts --host 127.0.0.1 --port <free> ...args` as a
 * child process and resolves once it printed its `listening` (or, with `--refuse`, `refusing`)
 * line. Always `await emulator.stop()` in afterAll. Flags: workers/emulator/README.md.
 */

export interface EmulatorProcess {
  readonly url: string;
  readonly port: number;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Send a signal (default SIGTERM) without waiting. */
  kill(signal?: NodeJS.Signals | number): void;
  /** Terminate and wait for exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const MAIN_PATH = join(import.meta.dir, "..", "..", "workers", "emulator", "main.ts");
const START_DEADLINE_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/** `args` may name its own `--port` (e.g. to restart a worker on the same address); otherwise a free one is used. */
export async function spawnEmulator(args: readonly string[] = []): Promise<EmulatorProcess> {
  const portIndex = args.indexOf("--port");
  const port = portIndex >= 0 ? Number(args[portIndex + 1]) : await freePort();
  const portArgs = portIndex >= 0 ? [] : ["--port", String(port)];
  const proc = Bun.spawn([process.execPath, MAIN_PATH, "--host", "127.0.0.1", ...portArgs, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const forceKill = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
    await proc.exited;
    clearTimeout(forceKill);
  };
  try {
    await waitForStartLine(proc);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, port, proc, kill: (signal = "SIGTERM") => proc.kill(signal), stop };
}

/** Reads stdout until the start line, then keeps draining it so the child never blocks on a full pipe. */
async function waitForStartLine(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<void> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), START_DEADLINE_MS)));
  let buffered = "";
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), deadline]);
      if (next === "timeout") throw new Error(`emulator did not start within ${START_DEADLINE_MS} ms`);
      if (next.done) {
        const stderr = await new Response(proc.stderr).text();
        throw new Error(`emulator exited before listening (code ${await proc.exited}): ${stderr.trim()}`);
      }
      buffered += decoder.decode(next.value, { stream: true });
      if (/"event":"(listening|refusing)"/.test(buffered)) break;
    }
  } finally {
    // A pending deadline timer would keep the test process alive for its full length.
    clearTimeout(timer);
  }
  void drain(reader);
  void drain(proc.stderr.getReader());
}

async function drain(reader: { read(): Promise<{ done: boolean }> }): Promise<void> {
  while (!(await reader.read()).done);
}
