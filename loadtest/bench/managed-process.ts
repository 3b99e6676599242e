// A child process the bench owns: started, polled until ready, and always stopped by its own pid.
// Redis and the emulator come from src/testing; this is for what only the bench runs (nginx, the
// bare Bun proxy, the gateway under test), whose stderr goes to a file for start-up errors.

import { waitFor } from "../../src/testing/poll.ts";

export interface ManagedProcess {
  name: string;
  pid: number;
  stop(): Promise<void>;
}

export interface SpawnSpec {
  name: string;
  cmd: string[];
  env?: Record<string, string | undefined>;
  /** stderr goes here (read back when start-up fails); stdout is discarded, so log cost is paid but never read. */
  stderrPath: string;
  /** Resolves true once the process serves. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export async function tcpOpen(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

export async function startProcess(spec: SpawnSpec): Promise<ManagedProcess> {
  const child = Bun.spawn(spec.cmd, {
    env: { ...process.env, ...spec.env },
    stdout: "ignore",
    // A file, not a pipe: an unread pipe would block a chatty child once its buffer fills.
    stderr: Bun.file(spec.stderrPath),
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
    await child.exited;
  };
  try {
    const serving = async (): Promise<boolean> => {
      if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
      return spec.ready();
    };
    await waitFor(serving, spec.readyTimeoutMs ?? 15_000, `${spec.name} to serve`, 50);
  } catch (error) {
    await stop();
    const stderr = await Bun.file(spec.stderrPath).text();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${spec.name} did not become ready (${reason}): ${stderr.slice(-2000)}`);
  }
  return { name: spec.name, pid: child.pid, stop };
}
