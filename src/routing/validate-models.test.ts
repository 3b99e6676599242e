import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminFeature } from "../admin/admin-feature.ts";
import { loadConfig, parseConfig } from "../config/load.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import { healthFeature } from "../health/health-feature.ts";
import { closedPortUrl } from "../testing/gateway-fixture.ts";

const POOLS = { heavy: { workers: ["http://heavy-0:8000"] }, light: { workers: ["http://light-0:8000"] } };

interface Scenario {
  name: string;
  models: Record<string, unknown>;
  error: string;
}

const invalid: Scenario[] = [
  {
    name: "an unknown pool in a route",
    models: { fast: { route: "lite" } },
    error: 'models.fast.route: got "lite", expected a model or pool (fast, heavy, light)',
  },
  {
    name: "an unknown pool in a variant",
    models: {
      ab: {
        variants: [
          { pool: "heavy", weight: 1 },
          { pool: "heavy-b", weight: 1 },
        ],
      },
    },
    error: 'models.ab.variants: got "heavy-b", expected a model or pool (ab, heavy, light)',
  },
  {
    name: "an unknown pool in a tier",
    models: { npc: { prefer: ["light", "medium"], ttftBudgetMs: 500 } },
    error: 'models.npc.prefer: got "medium", expected a model or pool (npc, heavy, light)',
  },
  {
    name: "a cycle in route",
    models: { a: { route: "b" }, b: { route: "c" }, c: { route: "a" } },
    error: "models: got a cycle a → b → c → a, expected every name to lead to a pool",
  },
  {
    name: "a cycle through a tier",
    models: { npc: { prefer: ["alias"] }, alias: { route: "npc" } },
    error: "models: got a cycle npc → alias → npc, expected every name to lead to a pool",
  },
  {
    name: "weights that sum to 0",
    models: {
      ab: {
        variants: [
          { pool: "heavy", weight: 0 },
          { pool: "light", weight: 0 },
        ],
      },
    },
    error: "models.ab.variants: weights sum to 0, expected a total above 0",
  },
  {
    name: "a name used for a model and a pool",
    models: { heavy: { route: "light" } },
    error: 'models.heavy: "heavy" is also a pool; a name is either a model or a pool',
  },
  {
    name: "an entry with two forms",
    models: { both: { route: "heavy", prefer: ["light"] } },
    error: "invalid configuration: models.both: got",
  },
];

describe("models validation", () => {
  test("rejects a contextFallback naming no other pool", () => {
    const pools = { ...POOLS, light: { ...POOLS.light, contextFallback: ["huge"] } };
    expect(() => parseConfig({ pools })).toThrow(
      'pools.light.contextFallback: got "huge", expected another configured pool (heavy)',
    );
  });

  test.each(invalid)("rejects $name in one line", ({ models, error }) => {
    expect(() => parseConfig({ pools: POOLS, models })).toThrow(error);
    try {
      parseConfig({ pools: POOLS, models });
    } catch (thrown) {
      expect((thrown as Error).message).not.toContain("\n");
    }
  });

  test("accepts the contract's example: alias, variants and a tier over variants", () => {
    const config = parseConfig({
      pools: { "heavy-a": POOLS.heavy, "heavy-b": POOLS.heavy, light: POOLS.light },
      models: {
        "Qwen/Qwen2.5-14B-Instruct-AWQ": { route: "heavy" },
        heavy: {
          variants: [
            { pool: "heavy-a", weight: 90 },
            { pool: "heavy-b", weight: 10 },
          ],
        },
        npc: { prefer: ["heavy", "light"], ttftBudgetMs: 800 },
      },
    });
    expect(Object.keys(config.models)).toEqual(["Qwen/Qwen2.5-14B-Instruct-AWQ", "heavy", "npc"]);
  });
});

test("the example tier config parses: real-time intents, interactive dialogue, async storytelling", () => {
  const config = loadConfig({ CONFIG: join(import.meta.dir, "..", "..", "deploy", "routing-tiers.config.json") });
  expect(Object.keys(config.models)).toEqual([
    "Qwen/Qwen2.5-14B-Instruct-AWQ",
    "Qwen/Qwen3-8B-AWQ",
    "npc-intent",
    "npc-dialogue",
    "storytelling",
  ]);
  expect(config.pools.heavy?.affinity).toBe("session");
});

describe("admin reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "ringgate-models-"));
  const env = { CONFIG: join(dir, "config.json"), ADMIN_API_KEY: "admin-key-0001" };
  let gateway: GatewayHandle;

  beforeAll(async () => {
    const worker = await closedPortUrl();
    writeFileSync(
      env.CONFIG,
      JSON.stringify({ pools: { heavy: { workers: [worker] } }, models: { big: { route: "heavy" } } }),
    );
    gateway = await startGateway({
      config: loadConfig(env),
      port: 0,
      hostname: "127.0.0.1",
      features: [healthFeature(), adminFeature({ env })],
    });
  });

  afterAll(async () => {
    await gateway?.stop(100);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a reload with a route cycle is rejected with the one-line reason; the running models stay", async () => {
    const before = gateway.config();
    writeFileSync(
      env.CONFIG,
      JSON.stringify({ pools: before.pools, models: { big: { route: "bigger" }, bigger: { route: "big" } } }),
    );
    const response = await fetch(`${gateway.url}/admin/reload`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` },
    });
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { message: string } }).error;
    expect(error.message).toContain("models: got a cycle big → bigger → big");
    expect(gateway.config()).toBe(before);
  });
});
