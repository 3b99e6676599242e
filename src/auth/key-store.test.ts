import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig } from "../config/load.ts";
import { keyStoreFor, sha256 } from "./key-store.ts";

const dir = mkdtempSync(join(tmpdir(), "ringgate-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(auth: Record<string, unknown>): ReturnType<typeof parseConfig> {
  return parseConfig({ pools: { heavy: { workers: ["http://127.0.0.1:1"] }, light: { workers: ["http://127.0.0.1:2"] } }, auth });
}

function keysFile(content: string): string {
  const path = join(dir, `keys-${crypto.randomUUID()}.json`);
  writeFileSync(path, content);
  return path;
}

describe("keyStoreFor", () => {
  test("inline keys, hashed keys and the keys file all authenticate; wrong keys do not", () => {
    const path = keysFile(JSON.stringify([{ name: "from-file", key: "file-secret-1", pools: ["light"], requestsPerMinute: 5 }]));
    const store = keyStoreFor(
      configWith({
        keys: [
          { name: "plain", key: "plain-secret-1" },
          { name: "hashed", sha256: sha256("hashed-secret-1").toString("hex") },
        ],
        keysFile: path,
      }),
    );
    expect(store.enabled).toBe(true);
    expect(store.authenticate("plain-secret-1")?.name).toBe("plain");
    expect(store.authenticate("hashed-secret-1")?.name).toBe("hashed");
    const fromFile = store.authenticate("file-secret-1");
    expect(fromFile?.name).toBe("from-file");
    expect([...(fromFile?.pools ?? [])]).toEqual(["light"]);
    expect(fromFile?.requestsPerMinute).toBe(5);
    for (const wrong of ["", "plain-secret-2", "PLAIN-SECRET-1", sha256("hashed-secret-1").toString("hex")]) {
      expect(store.authenticate(wrong)).toBeUndefined();
    }
  });

  test("no keys configured: disabled", () => {
    expect(keyStoreFor(configWith({})).enabled).toBe(false);
  });

  test("is built once per config object (a reload validates, the request path reuses)", () => {
    const config = configWith({ keys: [{ name: "a", key: "a-secret-1" }] });
    expect(keyStoreFor(config)).toBe(keyStoreFor(config));
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["missing keys file", { keysFile: join(dir, "absent.json") }, /auth\.keysFile: cannot read/],
    ["keys file not JSON", { keysFile: keysFile("[{") }, /auth\.keysFile: cannot read .* as JSON/],
    ["keys file wrong shape", { keysFile: keysFile(JSON.stringify([{ name: "x", key: "short" }])) }, /auth\.keysFile .*0\.key/],
    ["key without secret", { keysFile: keysFile(JSON.stringify([{ name: "x" }])) }, /exactly one of "key" or "sha256"/],
    ["duplicate names", { keys: [{ name: "a", key: "a-secret-1" }, { name: "a", key: "a-secret-2" }] }, /"a" is used twice/],
    ["unknown pool", { keys: [{ name: "a", key: "a-secret-1", pools: ["tiny"] }] }, /auth\.keys\.a\.pools: got "tiny"/],
  ];
  test.each(invalid)("rejects %s with a ConfigError naming it", (_name, auth, message) => {
    const config = configWith(auth);
    expect(() => keyStoreFor(config)).toThrow(ConfigError);
    expect(() => keyStoreFor(config)).toThrow(message);
  });

  test("errors never echo a secret: bare tokens in files, too-short keys", () => {
    const messageOf = (run: () => unknown): string => {
      try {
        run();
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      throw new Error("expected a ConfigError");
    };
    const unquoted = keysFile('[{"name":"x","key":sekrit-token-1}]');
    expect(messageOf(() => keyStoreFor(configWith({ keysFile: unquoted })))).not.toContain("sekrit");
    const configPath = keysFile('{"pools":{},"auth":{"adminApiKey":sekrit-token-2}}');
    expect(messageOf(() => loadConfig({ CONFIG: configPath }))).not.toContain("sekrit");
    const short = messageOf(() =>
      parseConfig({ pools: { a: { workers: ["http://x:1"], workerApiKey: "" } }, auth: { adminApiKey: "sekrit", keys: [{ name: "k", key: "sekrit" }] } }),
    );
    expect(short).toContain("auth.keys.0.key: got (a secret, not shown)");
    expect(short).not.toContain("sekrit");
  });
});
