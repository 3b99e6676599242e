import { ConfigError, loadConfig } from "../src/config/load.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import { defaultFeatures } from "../src/features.ts";
import type { GatewayFeature } from "../src/gateway.ts";
import { type GatewayHandle, startGateway } from "./gateway-app.ts";
import { applyLogLevel, logger } from "../src/log.ts";
import { parseCommandLine } from "../src/process/cli.ts";
import { fetchConcurrencyWarning } from "../src/process/fetch-concurrency.ts";
import { START_CLI } from "../src/process/gateway-cli.ts";
import { stopWhenOrphaned } from "../src/process/parent-watch.ts";
import { threadCount } from "../src/process/thread-count.ts";
import { startThreadedGateway } from "./threaded-gateway.ts";

/** Loads the config from the environment or exits with the one message that names what is wrong. */
export function configFromEnvOrExit(env: Record<string, string | undefined> = process.env): GatewayConfig {
  try {
    const config = loadConfig(env);
    applyLogLevel(config.logLevel);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return exitWithOneLine(error.message);
  }
}

/** `THREADS` from the environment, or exit with the one line that says what is wrong with it. */
export function threadsFromEnvOrExit(env: Record<string, string | undefined> = process.env): number {
  try {
    return threadCount(env.THREADS);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return exitWithOneLine(error.message);
  }
}

function exitWithOneLine(message: string): never {
  console.error(`ringgate: ${message}`);
  process.exit(1);
}

/** Bun.serve's listen errors (port taken, no permission, no such address) as one line an operator can act on. */
function listenProblem(error: unknown, config: GatewayConfig): string | undefined {
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  if (syscall !== "listen" && code !== "EADDRINUSE") return undefined;
  const meaning: Record<string, string> = {
    EADDRINUSE: "address already in use (another process holds the port)",
    EACCES: "permission denied",
    EADDRNOTAVAIL: "address not available on this host",
  };
  return `cannot listen on ${config.host}:${config.port}: ${meaning[String(code)] ?? String(code)}`;
}

/** An admin config reload may change `logLevel` too: it applies at once, like the rest of the config. */
const logLevelFeature: GatewayFeature = {
  name: "log-level",
  setup: (context) => context.onConfigReplaced((next) => applyLogLevel(next.logLevel)),
};

/** Runs a gateway until SIGTERM/SIGINT/SIGHUP, then drains in-flight requests within the grace period. */
export async function runUntilSignalled(config: GatewayConfig, threads = 1): Promise<GatewayHandle> {
  const options = { config, features: [...defaultFeatures(), logLevelFeature] };
  const starting = threads > 1 ? startThreadedGateway({ ...options, threads }) : startGateway(options);
  const gateway = await starting.catch((error: unknown) => {
    // Features read more configuration (e.g. the keys file) while starting; the same one-line rule applies.
    if (error instanceof ConfigError) return exitWithOneLine(error.message);
    const problem = listenProblem(error, config);
    if (problem) return exitWithOneLine(problem);
    throw error;
  });
  const hostname = gateway.server.hostname ?? config.host;
  const address = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${gateway.port}`;
  const listening = { address, url: gateway.url, pid: process.pid, pools: gateway.pools.names(), threads };
  logger.info(listening, `ringgate listening on ${address}`);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.limits.shutdownGraceMs }, "draining");
    await gateway.stop();
    logger.info("stopped");
    process.exit(0);
  };
  // SIGHUP too: a hung-up terminal should drain, not drop streams.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop(signal));
  stopWhenOrphaned(() => void stop("parent exited"));
  return gateway;
}

/** Warned once, after the config is loaded so it honours the log level. */
export function warnIfFetchConcurrencyUnset(): void {
  const warning = fetchConcurrencyWarning();
  if (warning) logger.warn(warning);
}

if (import.meta.main) {
  parseCommandLine(START_CLI, process.argv.slice(2));
  const config = configFromEnvOrExit();
  const threads = threadsFromEnvOrExit();
  warnIfFetchConcurrencyUnset();
  await runUntilSignalled(config, threads);
}
