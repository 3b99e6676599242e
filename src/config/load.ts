import { readFileSync } from "node:fs";
import type { z } from "zod";
import { routingProblem } from "../routing/validate-models.ts";
import { configSchema, type GatewayConfig } from "./schema.ts";

export type Env = Record<string, string | undefined>;

/** Start-up stops with this: one message naming the field, the value and what was expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Builds the frozen config from an optional `CONFIG` JSON file overlaid with the environment
 * (`HOST`, `PORT`, `POOL_<NAME>`, `REDIS_URL`, `API_KEYS`, `ADMIN_API_KEY`, `LOG_LEVEL`).
 */
export function loadConfig(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): GatewayConfig {
  const raw = env.CONFIG ? readConfigFile(env.CONFIG, readFile) : {};
  return parseConfig(applyEnv(raw, env));
}

/** Validates a config object (file contents, admin reloads, tests) and deep-freezes it. */
export function parseConfig(raw: unknown): GatewayConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error.issues, raw));
  checkCrossReferences(parsed.data);
  return deepFreeze(parsed.data);
}

function readConfigFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`CONFIG: cannot read "${path}": ${(error as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!isRecord(value)) throw new Error("expected a JSON object");
    return value;
  } catch (error) {
    throw new ConfigError(`CONFIG: "${path}" is not a valid JSON object: ${withoutQuotedText((error as Error).message)}`);
  }
}

function applyEnv(file: Record<string, unknown>, env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(file);
  if (env.HOST) out.host = env.HOST;
  if (env.PORT) out.port = numberFromEnv("PORT", env.PORT);
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  const pools: Record<string, unknown> = isRecord(out.pools) ? { ...out.pools } : {};
  for (const [name, value] of Object.entries(env)) {
    // Empty defines no pool: a Compose override cannot unset a variable (compose.ab.yaml renames heavy).
    if (!name.startsWith("POOL_") || value === undefined || value.trim() === "") continue;
    const pool = name.slice("POOL_".length).toLowerCase();
    const workers = value.split(",").map((url) => url.trim()).filter(Boolean);
    pools[pool] = { ...(isRecord(pools[pool]) ? pools[pool] : {}), workers };
  }
  out.pools = pools;
  if (env.REDIS_URL) out.metrics = { ...(isRecord(out.metrics) ? out.metrics : {}), redisUrl: env.REDIS_URL };
  const auth: Record<string, unknown> = isRecord(out.auth) ? { ...out.auth } : {};
  if (env.API_KEYS) {
    const fromEnv = env.API_KEYS.split(",").map((key) => key.trim()).filter(Boolean);
    const named = fromEnv.map((key, index) => ({ name: `env-${index + 1}`, key }));
    auth.keys = [...(Array.isArray(auth.keys) ? auth.keys : []), ...named];
  }
  if (env.ADMIN_API_KEY) auth.adminApiKey = env.ADMIN_API_KEY;
  out.auth = auth;
  return out;
}

function numberFromEnv(name: string, value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : `${name}=${value}`;
}

function checkCrossReferences(config: GatewayConfig): void {
  const names = Object.keys(config.pools);
  if (names.length === 0) {
    throw new ConfigError("pools: no pool configured; expected POOL_<NAME>=url,... or a CONFIG file with \"pools\"");
  }
  for (const [name, pool] of Object.entries(config.pools)) {
    if (pool.workers.length === 0 && !pool.discovery) {
      throw new ConfigError(`pools.${name}.workers: got [], expected at least one worker URL or a "discovery" block`);
    }
    for (const target of pool.fallback) {
      if (!(target in config.pools) || target === name) {
        throw new ConfigError(
          `pools.${name}.fallback: got "${target}", expected another configured pool (${names.filter((n) => n !== name).join(", ") || "none"})`,
        );
      }
    }
  }
  const routing = routingProblem(config);
  if (routing) throw new ConfigError(routing);
  for (const key of config.auth.keys) {
    if (!key.key === !key.sha256) throw new ConfigError(`auth.keys.${key.name}: expected exactly one of "key" or "sha256"`);
  }
}

function describeIssue(issues: z.core.$ZodIssue[], raw: unknown): string {
  const lines = issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join(".") || "(root)";
    const value = valueAt(raw, issue.path);
    const got = value === undefined ? "missing" : isSecretPath(issue.path) ? "(a secret, not shown)" : JSON.stringify(value);
    return `${path}: got ${got}, ${issue.message}`;
  });
  return `invalid configuration: ${lines.join("; ")}`;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let current = raw;
  for (const key of path) {
    if (!isRecord(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** `key`, `adminApiKey`, `workerApiKey`: values that must never reach a log line. */
function isSecretPath(path: PropertyKey[]): boolean {
  return /(^k|K)ey$/.test(String(path.at(-1) ?? ""));
}

/** JSON parse errors quote the offending token, which may be a secret from a keys or config file. */
export function withoutQuotedText(message: string): string {
  return message.replace(/"[^"]*"/g, "(…)");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
