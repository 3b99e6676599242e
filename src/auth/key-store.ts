import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, withoutQuotedText } from "../config/load.ts";
import { clientKeySchema, type ClientKeyConfig, type GatewayConfig } from "../config/schema.ts";

/** What the gateway knows about a client key after load: never the key itself. */
export interface ClientKey {
  readonly name: string;
  /** Pools the key may use; empty = all. */
  readonly pools: ReadonlySet<string>;
  readonly requestsPerMinute: number | undefined;
  readonly tokensPerMinute: number | undefined;
}

interface StoredKey {
  readonly digest: Buffer;
  readonly key: ClientKey;
}

export function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Client keys of one config (inline keys plus the keys file), held as SHA-256 digests. */
export class KeyStore {
  readonly #stored: readonly StoredKey[];

  constructor(keys: readonly ClientKeyConfig[]) {
    this.#stored = keys.map((key) => ({
      digest: key.key === undefined ? Buffer.from(key.sha256 ?? "", "hex") : sha256(key.key),
      key: Object.freeze({
        name: key.name,
        pools: new Set(key.pools),
        requestsPerMinute: key.requestsPerMinute,
        tokensPerMinute: key.tokensPerMinute,
      }),
    }));
  }

  /** No keys configured: /v1/* is open. */
  get enabled(): boolean {
    return this.#stored.length > 0;
  }

  /**
   * The key whose digest matches the presented one. Every stored digest is compared in constant time
   * and the loop never exits early, so the answer time says nothing about how close a guess was.
   */
  authenticate(presented: string): ClientKey | undefined {
    const digest = sha256(presented);
    let found: ClientKey | undefined;
    for (const stored of this.#stored) {
      if (timingSafeEqual(stored.digest, digest) && found === undefined) found = stored.key;
    }
    return found;
  }
}

const keysFileSchema = z.array(clientKeySchema);
const stores = new WeakMap<GatewayConfig, KeyStore>();

/**
 * The key store of a config, built once per config object: a reload validates it before the swap and
 * the request path then finds it ready. Throws `ConfigError` for an unreadable or invalid keys file.
 */
export function keyStoreFor(config: GatewayConfig, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): KeyStore {
  let store = stores.get(config);
  if (!store) {
    const keys = [...config.auth.keys, ...readKeysFile(config.auth.keysFile, readFile)];
    checkKeys(keys, config);
    store = new KeyStore(keys);
    stores.set(config, store);
  }
  return store;
}

function readKeysFile(path: string | undefined, readFile: (path: string) => string): ClientKeyConfig[] {
  if (path === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFile(path));
  } catch (error) {
    throw new ConfigError(`auth.keysFile: cannot read "${path}" as JSON: ${withoutQuotedText((error as Error).message)}`);
  }
  const parsed = keysFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`auth.keysFile "${path}": ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

function checkKeys(keys: readonly ClientKeyConfig[], config: GatewayConfig): void {
  const names = new Set<string>();
  for (const key of keys) {
    if (!key.key === !key.sha256) throw new ConfigError(`auth.keys.${key.name}: expected exactly one of "key" or "sha256"`);
    if (names.has(key.name)) throw new ConfigError(`auth.keys: the name "${key.name}" is used twice; names must be unique`);
    names.add(key.name);
    for (const pool of key.pools) {
      if (!(pool in config.pools)) {
        throw new ConfigError(`auth.keys.${key.name}.pools: got "${pool}", expected a configured pool (${Object.keys(config.pools).join(", ")})`);
      }
    }
  }
}
