import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { batchXadd, entryArgument } from "./batch-xadd.ts";
import { entryKey, InstanceLedger } from "./instance-ledger.ts";
import { EVENTS_STREAM, REQUESTS_STREAM } from "./record-encoding.ts";

/** The ledger against a real redis-server; leases lapse in real time, so they are short here. */

const LEASE_MS = 200;
let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

async function writeBatch(instance: string, seq: number, ids: string[], accepted: number): Promise<void> {
  const entries = ids.map((id) => entryArgument(["request_id", id]));
  const batch = { idKey: `ringgate:batch:${instance}:${seq}`, stream: REQUESTS_STREAM, entries };
  await batchXadd(client, batch, "1000", { key: entryKey(instance), accepted, refused: 0 });
}

test("a lapsed lease is claimed on the second pass only, once, as accepted − written − refused", async () => {
  const dead = new InstanceLedger(client, "dead", LEASE_MS, Date.now());
  const survivor = new InstanceLedger(client, "survivor", LEASE_MS, Date.now());
  await dead.heartbeat({ accepted: 10, written: 0, refused: 1 });
  await survivor.heartbeat({ accepted: 0, written: 0, refused: 0 });
  await writeBatch("dead", 0, ["a", "b", "c"], 10);
  // A re-sent batch counts once.
  await writeBatch("dead", 0, ["a", "b", "c"], 10);
  await writeBatch("dead", 1, ["d"], 10);
  expect(await survivor.reap("1000", 1)).toEqual([]);
  await Bun.sleep(LEASE_MS * 2);
  expect(await survivor.reap("1000", 2)).toEqual([]);
  const claimed = await survivor.reap("1000", 3);
  expect(claimed).toEqual([{ instance: "dead", host: expect.any(String), pid: String(process.pid), lost: 5 }]);
  expect(await survivor.reap("1000", 4)).toEqual([]);
  expect(await client.exists(entryKey("dead"))).toBe(0);
  expect(await client.smembers("ringgate:instances")).toEqual(["survivor"]);
  const [[, fields] = ["", []]] = await client.xrange(EVENTS_STREAM, "-", "+");
  expect(fields.slice(fields.indexOf("state"))).toContain("records_lost");
  expect(fields[fields.indexOf("lost") + 1]).toBe("5");
});

test("a late heartbeat (a Redis stall) only makes the instance suspect; the next one clears it", async () => {
  await client.del(EVENTS_STREAM, "ringgate:instances");
  const late = new InstanceLedger(client, "late", LEASE_MS, Date.now());
  const other = new InstanceLedger(client, "other", LEASE_MS, Date.now());
  for (let pass = 0; pass < 3; pass++) {
    await late.heartbeat({ accepted: 3, written: 0, refused: 0 });
    await Bun.sleep(LEASE_MS * 2);
    // Lapsed each time, but never on two passes in a row.
    expect(await other.reap("1000", pass)).toEqual([]);
  }
  expect(await client.hget(entryKey("late"), "accepted")).toBe("3");
  await late.remove();
  expect(await client.exists(entryKey("late"))).toBe(0);
  expect(await client.xlen(EVENTS_STREAM)).toBe(0);
});
