import type { CliSpec } from "./cli.ts";

/** The environment the gateway reads; `bun run start -- --help` and `bun run demo -- --help` print it. */
export const GATEWAY_ENVIRONMENT = `environment:
  HOST            where the gateway listens (default: 0.0.0.0)
  PORT            its port (default: 8000)
  POOL_<NAME>     comma-separated worker base URLs of pool <name>, e.g. POOL_HEAVY=http://heavy-0:8000
  CONFIG          path of a JSON config file with the full schema; the variables override it (default: none)
  REDIS_URL       metrics to Redis Streams there (default: none: in-memory, one warning)
  API_KEYS        comma-separated client keys; when set /v1/* needs a bearer key (default: none)
  ADMIN_API_KEY   enables /admin/* with this key (default: none: /admin/* is 404)
  LOG_LEVEL       fatal, error, warn, info, debug, trace or silent; also logLevel in CONFIG (default: info)
  THREADS         threads serving the port on one shared pool state; auto = one per core (default: 1)
  BUN_CONFIG_MAX_HTTP_REQUESTS  Bun's fetch concurrency, read at start (the package scripts and image: 65535)`;

export const START_CLI: CliSpec<Record<string, never>> = {
  usage: "bun run start",
  summary: "Runs the ringgate gateway, configured from the environment and/or CONFIG; SIGTERM drains it.",
  options: {},
  notes: GATEWAY_ENVIRONMENT,
};

export const DEMO_CLI: CliSpec<Record<string, never>> = {
  usage: "bun run demo",
  summary: "The gateway on PORT (default 8000) in front of four emulated vLLM workers on loopback; no GPU, Docker or Redis.",
  options: {},
  notes: `${GATEWAY_ENVIRONMENT}\n(CONFIG is the demo's own pool file; POOL_<NAME> variables add to or override its pools.)`,
};

