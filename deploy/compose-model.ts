import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";

/**
 * Reads the compose files the way Compose does (YAML merge keys, then `${VAR:-default}`
 * interpolation of every string) so tests can check invariants without a Docker engine.
 */

export const REPO_ROOT = resolve(import.meta.dir, "..");

export type Env = Record<string, string | undefined>;

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  deploy?: { resources?: { reservations?: { devices?: { device_ids?: string[]; capabilities?: string[] }[] } } };
  healthcheck?: { test: string[]; start_period?: string };
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  ipc?: string;
  init?: boolean;
  stop_grace_period?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const VARIABLE = /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g;

/** Compose interpolation for the forms this repo uses: `${VAR}`, `${VAR:-default}` and `$$`. */
export function interpolate(text: string, env: Env): string {
  const replaced = text.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
    const value = env[name];
    return value === undefined || value === "" ? (fallback ?? "") : value;
  });
  if (/\$(?!\$)/.test(replaced.replaceAll("$$", ""))) {
    throw new Error(`unsupported interpolation in "${text}"`);
  }
  return replaced.replaceAll("$$", "$");
}

/** Every `${VAR...}` a compose file references, as [name, inline default ("" when none)] pairs. */
export function referencedVariables(relativePath: string): [string, string][] {
  const text = readFileSync(resolve(REPO_ROOT, relativePath), "utf8");
  return [...text.matchAll(VARIABLE)].map((match) => [match[1] ?? "", match[2] ?? ""]);
}

export function loadCompose(relativePath: string, env: Env = {}): ComposeFile {
  const text = readFileSync(resolve(REPO_ROOT, relativePath), "utf8");
  const raw: unknown = parse(text, { merge: true });
  return interpolateDeep(raw, env) as ComposeFile;
}

/** KEY=value lines of a dotenv file; comments and blank lines skipped. */
export function readEnvFile(relativePath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(resolve(REPO_ROOT, relativePath), "utf8").split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) env[match[1]] = match[2] ?? "";
  }
  return env;
}

/** The value following `flag` in an argument list, or undefined. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

/** vLLM flags that newer images reject (unknown argument → exit) or that break this stack (FACTS §7). */
export const REMOVED_VLLM_FLAGS = ["--disable-log-requests", "--disable-log-stats", "--enable-reasoning", "--swap-space", "--guided-decoding-backend"];

/** Whether `flag` is passed, as `--flag`, `--flag value` or `--flag=value`. */
export function usesFlag(args: readonly string[], flag: string): boolean {
  return args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

/** Services that are model workers: their command names a served model. */
export function workerServices(compose: ComposeFile): [string, ComposeService & { command: string[] }][] {
  return Object.entries(compose.services).flatMap(([name, service]) =>
    service.command && flagValue(service.command, "--served-model-name") ? [[name, { ...service, command: service.command }]] : [],
  );
}

export function dependencyCondition(service: ComposeService, dependency: string): string | undefined {
  const dependsOn = service.depends_on;
  if (dependsOn === undefined) return undefined;
  if (Array.isArray(dependsOn)) return dependsOn.includes(dependency) ? "service_started" : undefined;
  return dependsOn[dependency]?.condition;
}

function interpolateDeep(value: unknown, env: Env): unknown {
  if (typeof value === "string") return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, env));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, interpolateDeep(child, env)]));
  }
  return value;
}

/**
 * `docker-compose -f base -f override` for the keys this repo's overrides use: per service, `environment`
 * merges, `volumes` merge by container path (the override's wins), any other key is replaced.
 */
export function mergeCompose(base: ComposeFile, override: ComposeFile): ComposeFile {
  const services = { ...base.services };
  for (const [name, patch] of Object.entries(override.services)) {
    const current = services[name] ?? {};
    const hasEnvironment = current.environment !== undefined || patch.environment !== undefined;
    const environment = hasEnvironment ? { ...current.environment, ...patch.environment } : undefined;
    const target = (volume: string) => volume.split(":")[1];
    const overridden = new Set((patch.volumes ?? []).map(target));
    const kept = (current.volumes ?? []).filter((volume) => !overridden.has(target(volume)));
    const volumes = current.volumes || patch.volumes ? [...kept, ...(patch.volumes ?? [])] : undefined;
    services[name] = { ...current, ...patch, ...(environment && { environment }), ...(volumes && { volumes }) };
  }
  return { ...base, services };
}
