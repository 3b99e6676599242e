import { ConfigError, loadConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/schema.ts";
import { defaultFeatures } from "./features.ts";
import { type GatewayHandle, startGateway } from "./gateway.ts";
import { logger } from "./log.ts";
import { ensureFetchConcurrency } from "./process/fetch-concurrency.ts";

/** Loads the config from the environment or exits with the one message that names what is wrong. */
export function configFromEnvOrExit(env: Record<string, string | undefined> = process.env): GatewayConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`ringgate: ${error.message}`);
    process.exit(1);
  }
}

/** Runs a gateway until SIGTERM/SIGINT, then drains in-flight requests within the grace period. */
export async function runUntilSignalled(config: GatewayConfig): Promise<GatewayHandle> {
  const gateway = await startGateway({ config, features: defaultFeatures() }).catch((error: unknown) => {
    // Features read more configuration (e.g. the keys file) while starting; the same one-line rule applies.
    if (!(error instanceof ConfigError)) throw error;
    console.error(`ringgate: ${error.message}`);
    process.exit(1);
  });
  logger.info({ url: gateway.url, pools: gateway.pools.names() }, "ringgate listening");
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.limits.shutdownGraceMs }, "draining");
    await gateway.stop();
    logger.info("stopped");
    process.exit(0);
  };
  // SIGHUP too: the re-exec parent forwards it, and a hung-up terminal should drain, not drop streams.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop(signal));
  return gateway;
}

if (import.meta.main && (await ensureFetchConcurrency())) {
  await runUntilSignalled(configFromEnvOrExit());
}
