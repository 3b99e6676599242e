import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { EmulatorApp, type EmulatorState } from "./emulator-app.ts";
import { closeIdleConnections } from "./idle-connections.ts";
import type { FaultSpec } from "./fault-spec.ts";
import { resolveOptions, type EmulatorOptions, type EmulatorOptionsInput } from "./options.ts";

/**
 * Programmatic entry: `startEmulator(options)` runs one emulated vLLM replica in this process.
 * node:http (not Bun.serve) because vLLM sends SSE headers before the first token, and Bun.serve
 * holds them back until the first body byte; node:http also lets faults reset sockets.
 */

export type { EmulatorState } from "./emulator-app.ts";
export type { EmulatorOptionsInput } from "./options.ts";

export interface EmulatorHandle {
  readonly url: string;
  readonly port: number;
  readonly options: EmulatorOptions;
  state(): EmulatorState;
  /** Kill the engine now: in-flight requests fail, /health 503, exit after `deathExitMs` unless `stayAfterDeath`. */
  die(): void;
  /** Arm a fault for the next `count` generation requests (all when omitted), each hit with chance `rate`; undefined clears. */
  setFault(spec: FaultSpec | string | undefined, count?: number, rate?: number): void;
  /** Close the port and drop every open connection. */
  stop(): Promise<void>;
}

export interface StartHooks {
  /** What a dead engine's process does when its watchdog fires; in-process default: close the port and end every connection. */
  readonly onExit?: () => void;
}

export async function startEmulator(input: EmulatorOptionsInput = {}, hooks: StartHooks = {}): Promise<EmulatorHandle> {
  const options = resolveOptions(input);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const stop = async (): Promise<void> => {
    app.stop();
    for (const socket of sockets) socket.destroy();
    const closing = server;
    server = undefined;
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  // Like an exiting process: the port closes and open connections end after what was already sent.
  const exit = (): void => {
    app.stop();
    server?.close();
    server = undefined;
    for (const socket of sockets) socket.end();
  };
  const app = new EmulatorApp(options, hooks.onExit ?? exit);
  const handle = (port: number): EmulatorHandle => ({
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    options,
    state: () => app.state(),
    die: () => app.die(),
    setFault: (spec, count, rate) => app.setFault(spec, count, rate),
    stop,
  });
  if (options.refuse) return handle(options.port);
  if (options.bootDelayMs > 0) await Bun.sleep(options.bootDelayMs);
  server = createServer((req, res) => app.handle(req, res));
  // Long streams and stalls must not be cut by Node-style request timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  closeIdleConnections(server, options.keepAliveTimeoutS * 1000);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const listening = server;
  const port = await new Promise<number>((resolve, reject) => {
    listening.once("error", reject);
    listening.listen(options.port, options.host, () => {
      const address = listening.address();
      resolve(typeof address === "object" && address ? address.port : options.port);
    });
  });
  return handle(port);
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
