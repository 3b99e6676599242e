import { parseConfig } from "../config/load.ts";
import type { ConfigInput } from "../config/schema.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import type { GatewayFeature } from "../gateway.ts";
import { healthFeature } from "../health/health-feature.ts";
import type { WorkerEvent } from "../health/worker-events.ts";
import type { FetchLike } from "../proxy/forward.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { type EmulatorProcess, spawnEmulator } from "./emulator-process.ts";
import { waitFor } from "./poll.ts";

/**
 * Test harness: one pool `heavy` of emulator processes (so tests can SIGSTOP/SIGKILL them) behind an
 * in-process gateway with health checking, returned once the first probe round is done. It keeps every
 * request record and every worker event with the monotonic time it arrived. Always `await stop()`.
 */
export interface ProcessGateway {
  emulators: EmulatorProcess[];
  gateway: GatewayHandle;
  records: RequestRecord[];
  events: { atMs: number; event: WorkerEvent }[];
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export interface ProcessGatewayOptions {
  /** Emulator flags per worker (`--served-model-name heavy` is added). */
  workers: readonly (readonly string[])[];
  config?: Partial<ConfigInput>;
  /** The gateway's fetch toward workers and probes (default: the global fetch). */
  fetch?: FetchLike;
}

export async function startProcessGateway(options: ProcessGatewayOptions): Promise<ProcessGateway> {
  const emulators = await Promise.all(
    options.workers.map((args) => spawnEmulator(["--served-model-name", "heavy", ...args])),
  );
  const records: RequestRecord[] = [];
  const events: ProcessGateway["events"] = [];
  const config = parseConfig({
    pools: { heavy: { workers: emulators.map((emulator) => emulator.url) } },
    ...options.config,
  });
  const recorder: GatewayFeature = {
    name: "test-records",
    setup: (context) => {
      context.onFinish((record) => records.push(record));
      context.events.on((event) => events.push({ atMs: performance.now(), event }));
    },
  };
  const gateway = await startGateway({
    config,
    port: 0,
    hostname: "127.0.0.1",
    fetch: options.fetch,
    features: [recorder, healthFeature()],
  });
  await waitFor(() => gateway.services.firstProbeRoundDone === true, 10_000, "the first probe round");
  return {
    emulators,
    gateway,
    records,
    events,
    post: (body, headers = {}) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    stop: async () => {
      await gateway.stop(200);
      // A stopped process only dies of SIGKILL; SIGCONT lets it take the SIGTERM.
      for (const emulator of emulators) emulator.kill("SIGCONT");
      await Promise.all(emulators.map((emulator) => emulator.stop()));
    },
  };
}
