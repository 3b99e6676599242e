import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import type { WorkerEvent } from "../health/worker-events.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { type RedisServer, startRedis } from "../testing/redis-server.ts";
import { testRecord } from "../testing/request-records.ts";
import { batchXadd, entryArgument } from "./batch-xadd.ts";
import { decodeRecord, encodeRecord, EVENTS_STREAM, REQUESTS_STREAM } from "./record-encoding.ts";
import { RedisSink } from "./redis-sink.ts";

let redis: RedisServer;
let reader: Redis;

beforeAll(async () => {
  redis = await startRedis();
  reader = new Redis(redis.url);
});

afterAll(async () => {
  reader?.disconnect();
  await redis?.stop();
});

function record(requestId: string): RequestRecord {
  const fields = { ts: 1_700_000_000_000, requestId, worker: "http://w:1", stream: false, ttftMs: undefined };
  const counts = { latencyMs: 5, promptTokens: 3, completionTokens: 4, gatewayOverheadMs: 0.1 };
  return testRecord({ ...fields, ...counts, keyName: "game" });
}

function event(reason: string): WorkerEvent {
  return { ts: 1_700_000_000_000, pool: "heavy", worker: "http://w:1", state: "ejected", reason, actor: "traffic" };
}

test("batches split at the batch size and at a change of stream; each stream keeps its order", async () => {
  const sink = new RedisSink({ redisUrl: redis.url, bufferSize: 100, flushIntervalMs: 20, streamMaxLen: 1_000, batchSize: 3 });
  const ids = ["r1", "r2", "r3", "r4", "r5", "r6", "r7"];
  for (const id of ids.slice(0, 5)) sink.record(record(id));
  sink.event(event("e1"));
  for (const id of ids.slice(5)) sink.record(record(id));
  sink.event(event("e2"));
  const until = Date.now() + 15_000;
  while (sink.stats().written < 9 && Date.now() < until) await Bun.sleep(20);
  await sink.stop(1_000);
  expect(sink.stats()).toEqual({ buffered: 0, dropped: 0, written: 9, lost: 0 });
  const records = await reader.xrange(REQUESTS_STREAM, "-", "+");
  expect(records.map(([, fields]) => decodeRecord(fields).requestId)).toEqual(ids);
  expect(decodeRecord(records[0]?.[1] ?? [])).toMatchObject({ pool: "heavy", promptTokens: 3, completionTokens: 4, ttftMs: undefined, latencyMs: 5 });
  const events = await reader.xrange(EVENTS_STREAM, "-", "+");
  expect(events.map(([, fields]) => fields[fields.indexOf("reason") + 1])).toEqual(["e1", "e2"]);
});

test("stop() waits for the connection and writes what is still buffered", async () => {
  await reader.del(REQUESTS_STREAM);
  const sink = new RedisSink({ redisUrl: redis.url, bufferSize: 100, flushIntervalMs: 60_000, streamMaxLen: 1_000 });
  sink.record(record("late"));
  await sink.stop(10_000);
  expect(sink.stats()).toEqual({ buffered: 0, dropped: 0, written: 1, lost: 0 });
  expect(await reader.xlen(REQUESTS_STREAM)).toBe(1);
});

test("a lone UTF-16 surrogate (e.g. from a worker's model list) is written, not refused by Redis", async () => {
  await reader.del(REQUESTS_STREAM, EVENTS_STREAM);
  const sink = new RedisSink({ redisUrl: redis.url, bufferSize: 100, flushIntervalMs: 20, streamMaxLen: 1_000 });
  sink.event(event("serves [\ud800heavy]"));
  for (const id of ["a", "b", "c"]) sink.record(record(id));
  await sink.stop(10_000);
  expect(sink.stats()).toEqual({ buffered: 0, dropped: 0, written: 4, lost: 0 });
  expect([await reader.xlen(EVENTS_STREAM), await reader.xlen(REQUESTS_STREAM)]).toEqual([1, 3]);
});

test("a batch Redis refuses is dropped and counted; the records behind it are still written", async () => {
  await reader.del(REQUESTS_STREAM, EVENTS_STREAM);
  // The events stream key holds a string: every XADD to it gets WRONGTYPE.
  await reader.set(EVENTS_STREAM, "not a stream");
  const sink = new RedisSink({ redisUrl: redis.url, bufferSize: 100, flushIntervalMs: 20, streamMaxLen: 1_000 });
  sink.event(event("refused"));
  for (const id of ["x", "y"]) sink.record(record(id));
  await sink.stop(10_000);
  expect(sink.stats()).toEqual({ buffered: 0, dropped: 1, written: 2, lost: 0 });
  expect(await reader.xlen(REQUESTS_STREAM)).toBe(2);
  await reader.del(EVENTS_STREAM);
});

test("a batch id is written once however often it is sent, also after the script cache was flushed", async () => {
  await reader.del(REQUESTS_STREAM);
  const entries = ["p", "q"].map((id) => entryArgument(encodeRecord(record(id))));
  const batch = { idKey: "ringgate:batch:test:0", stream: REQUESTS_STREAM, entries };
  const ledger = { key: "ringgate:instance:test", accepted: 4, refused: 0 };
  const attempts = [await batchXadd(reader, batch, "1000", ledger), await batchXadd(reader, batch, "1000", ledger)];
  await reader.script("FLUSH");
  const next = { ...batch, idKey: "ringgate:batch:test:1" };
  attempts.push(await batchXadd(reader, batch, "1000", ledger), await batchXadd(reader, next, "1000", ledger));
  expect(attempts).toEqual([true, false, false, true]);
  expect(await reader.xlen(REQUESTS_STREAM)).toBe(4);
  expect(await reader.pttl(batch.idKey)).toBeGreaterThan(0);
  // Counted as written once per batch, whatever the attempts.
  expect(await reader.hgetall(ledger.key)).toEqual({ accepted: "4", written: "4" });
});

test("stopping while Redis comes back writes every buffered record exactly once", async () => {
  await reader.del(REQUESTS_STREAM);
  const sink = new RedisSink({ redisUrl: redis.url, bufferSize: 20_000, flushIntervalMs: 20, streamMaxLen: 1_000_000, batchSize: 100 });
  await redis.stop();
  for (let i = 0; i < 5_000; i++) sink.record(record(`r${i}`));
  const stopping = sink.stop(15_000);
  await redis.restart();
  await stopping;
  reader.disconnect();
  reader = new Redis(redis.url);
  const ids = (await reader.xrange(REQUESTS_STREAM, "-", "+")).map(([, fields]) => decodeRecord(fields).requestId);
  expect(ids.length).toBe(5_000);
  expect(new Set(ids).size).toBe(5_000);
  expect(sink.stats()).toEqual({ buffered: 0, dropped: 0, written: 5_000, lost: 0 });
});
