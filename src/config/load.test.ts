import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, parseConfig } from "./load.ts";

const files: Record<string, string> = {
  "/etc/ringgate.json": JSON.stringify({
    pools: {
      heavy: { workers: ["http://heavy-0:8000", "http://heavy-1:8000/"], fallback: ["light"] },
      light: { workers: ["http://light-0:8000"], upstreamModel: "light", chatTemplateKwargs: { enable_thinking: false } },
    },
  }),
  "/etc/broken.json": "{not json",
};
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error("ENOENT: no such file");
  return text;
};

describe("loadConfig", () => {
  test("POOL_<NAME> env vars make lower-cased pools; HOST/PORT/REDIS_URL/keys apply", () => {
    const config = loadConfig({
      POOL_HEAVY: "http://a:1, http://b:2",
      POOL_Light: "http://c:3",
      HOST: "127.0.0.1",
      PORT: "9000",
      REDIS_URL: "redis://r:6379",
      API_KEYS: "key-one-123,key-two-456",
      ADMIN_API_KEY: "admin-secret",
    });
    expect(config.pools.heavy?.workers).toEqual(["http://a:1", "http://b:2"]);
    expect(config.pools.light?.workers).toEqual(["http://c:3"]);
    expect([config.host, config.port, config.metrics.redisUrl]).toEqual(["127.0.0.1", 9000, "redis://r:6379"]);
    expect(config.auth.keys.map((key) => key.name)).toEqual(["env-1", "env-2"]);
    expect(config.auth.adminApiKey).toBe("admin-secret");
  });

  test("the CONFIG file gives the full shape; env workers override the file's", () => {
    const config = loadConfig({ CONFIG: "/etc/ringgate.json", POOL_HEAVY: "http://x:1" }, readFile);
    expect(config.pools.heavy?.workers).toEqual(["http://x:1"]);
    expect(config.pools.heavy?.fallback).toEqual(["light"]);
    expect(config.pools.light?.chatTemplateKwargs).toEqual({ enable_thinking: false });
    expect(config.pools.light?.workers).toEqual(["http://light-0:8000"]);
  });

  test("an empty POOL_<NAME> defines no pool, so a Compose override can take one out", () => {
    const config = loadConfig({ POOL_HEAVY: " ", POOL_LIGHT: "http://c:3" });
    expect(Object.keys(config.pools)).toEqual(["light"]);
  });

  test("the result is deeply frozen", () => {
    const config = loadConfig({ POOL_HEAVY: "http://a:1" });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.pools.heavy?.workers)).toBe(true);
  });

  test.each([
    { name: "no pools", env: {}, message: /pools: no pool configured/ },
    { name: "a worker that is not a URL", env: { POOL_HEAVY: "heavy-0:8000" }, message: /pools\.heavy\.workers\.0: got "heavy-0:8000", expected an http\(s\) base URL/ },
    { name: "a port that is not a number", env: { POOL_HEAVY: "http://a:1", PORT: "eighty" }, message: /port: got "PORT=eighty"/ },
    { name: "an unknown log level", env: { POOL_HEAVY: "http://a:1", LOG_LEVEL: "loud" }, message: /logLevel: got "loud"/ },
    { name: "a missing CONFIG file", env: { CONFIG: "/nope.json" }, message: /CONFIG: cannot read "\/nope.json"/ },
    { name: "a CONFIG file that is not JSON", env: { CONFIG: "/etc/broken.json" }, message: /CONFIG: "\/etc\/broken.json" is not a valid JSON object/ },
  ])("rejects $name with a message naming field and value", ({ env, message }) => {
    expect(() => loadConfig(env, readFile)).toThrow(ConfigError);
    expect(() => loadConfig(env, readFile)).toThrow(message);
  });
});

describe("parseConfig cross-references", () => {
  test.each([
    { name: "fallback to an unknown pool", raw: { pools: { heavy: { workers: ["http://a:1"], fallback: ["nope"] } } }, message: /pools\.heavy\.fallback: got "nope", expected another configured pool/ },
    { name: "fallback to itself", raw: { pools: { heavy: { workers: ["http://a:1"], fallback: ["heavy"] } } }, message: /pools\.heavy\.fallback: got "heavy"/ },
    { name: "a pool without workers or discovery", raw: { pools: { heavy: { workers: [] } } }, message: /pools\.heavy\.workers: got \[\]/ },
    { name: "an unknown key", raw: { pools: { heavy: { workers: ["http://a:1"], wrokers: [] } } }, message: /pools\.heavy/ },
    { name: "a key with both key and sha256", raw: { pools: { h: { workers: ["http://a:1"] } }, auth: { keys: [{ name: "k", key: "12345678", sha256: "a".repeat(64) }] } }, message: /auth\.keys\.k: expected exactly one/ },
  ])("rejects $name", ({ raw, message }) => {
    expect(() => parseConfig(raw)).toThrow(message);
  });
});
