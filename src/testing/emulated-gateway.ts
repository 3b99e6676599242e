import { type EmulatorHandle, type EmulatorOptionsInput, startEmulator } from "../../workers/emulator/server.ts";
import type { ConfigInput, Timeouts } from "../config/schema.ts";
import type { GatewayFeature, GatewayServices } from "../gateway.ts";
import { healthFeature } from "../health/health-feature.ts";
import { type GatewayFixture, startGatewayFixture } from "./gateway-fixture.ts";
import { waitFor } from "./poll.ts";

/**
 * Test harness: in-process emulated workers per pool behind an in-process gateway with health checking,
 * returned once the first probe round is done. Small budgets keep fault tests fast; the probe interval
 * is long so only the first round runs unless a test asks otherwise. Always `await harness.stop()`.
 */
export interface EmulatedGateway {
  emulators: EmulatorHandle[];
  fixture: GatewayFixture;
  services: GatewayServices;
  stop(): Promise<void>;
}

export interface EmulatedGatewayOptions {
  /** Emulated workers per pool (served model name = pool name). */
  pools: Record<string, number>;
  fallback?: Record<string, string[]>;
  timeouts?: Partial<Timeouts>;
  /** Merged over the pools' generated config (e.g. `maxInFlight`). */
  pool?: Record<string, unknown>;
  health?: ConfigInput["health"];
  retry?: ConfigInput["retry"];
  /** Extra options for the first emulator only (the one fault tests arm). */
  emulator?: Partial<EmulatorOptionsInput>;
  /** Extra options for every emulator (e.g. a reasoning model); `emulator` wins for the first. */
  everyEmulator?: Partial<EmulatorOptionsInput>;
  /** Features set up after health checking (e.g. the dashboard). */
  features?: readonly GatewayFeature[];
  /** Merged over the generated config (e.g. `auth`). */
  config?: Partial<ConfigInput>;
}

// 15 ms between tokens: a cut after N tokens comes well after the first event even on loaded cores.
const EMULATOR = { port: 0, ttftMs: 20, itlMs: 15, outputTokens: 12 } as const;
export const TEST_TIMEOUTS: Timeouts = { connectMs: 500, firstTokenMs: 800, idleMs: 500, totalMs: 10_000, perTokenMs: 250 };

export async function startEmulatedGateway(options: EmulatedGatewayOptions): Promise<EmulatedGateway> {
  const emulators: EmulatorHandle[] = [];
  const pools: Record<string, Record<string, unknown>> = {};
  for (const [name, count] of Object.entries(options.pools)) {
    const first = emulators.length === 0 ? options.emulator : undefined;
    const started = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        startEmulator({ ...EMULATOR, servedModelName: name, ...options.everyEmulator, ...(index === 0 ? first : undefined) }),
      ),
    );
    emulators.push(...started);
    pools[name] = { workers: started.map((emulator) => emulator.url), fallback: options.fallback?.[name] ?? [], ...options.pool };
  }
  const fixture = await startGatewayFixture(
    {
      pools,
      timeouts: { ...TEST_TIMEOUTS, ...options.timeouts },
      retry: { maxAttempts: 3, budgetMs: 5_000, maxRetryAfterMs: 2_000, ...options.retry },
      health: { intervalMs: 60_000, timeoutMs: 1_000, ejectBaseMs: 30_000, ...options.health },
      ...options.config,
    },
    [healthFeature(), ...(options.features ?? [])],
  );
  const services = fixture.gateway.services;
  const stop = async (): Promise<void> => {
    await fixture.stop();
    await Promise.all(emulators.map((emulator) => emulator.stop()));
  };
  const probed = (): boolean => Object.values(services.health?.snapshot() ?? {}).flat().every((worker) => worker.lastProbe !== undefined);
  await waitFor(probed, 10_000, "the first probe round");
  return { emulators, fixture, services, stop };
}
