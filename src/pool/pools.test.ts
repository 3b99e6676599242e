import { expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { SlotState } from "./pool-state.ts";
import { Pools } from "./pools.ts";

const config = parseConfig({ pools: { heavy: { workers: ["http://a:1", "http://b:1"] } } });

test("workers that stay keep their slot and state across a membership change", () => {
  const pool = new Pools(config).get("heavy");
  const b = pool?.worker("http://b:1");
  pool?.state.setState(b?.slot ?? -1, SlotState.Down);
  const change = pool?.replaceWorkers(["http://b:1", "http://c:1"]);
  expect(change?.added.map((w) => w.url)).toEqual(["http://c:1"]);
  expect(change?.removed.map((w) => w.url)).toEqual(["http://a:1"]);
  expect(pool?.worker("http://b:1")?.slot).toBe(b?.slot);
  expect(pool?.state.state(b?.slot ?? -1)).toBe(SlotState.Down);
});

test("one worker has one URL: trailing slashes neither find another worker nor add a second one", () => {
  const pool = new Pools(parseConfig({ pools: { heavy: { workers: ["http://a:1/"] } } })).get("heavy");
  expect(pool?.workers().map((w) => w.url)).toEqual(["http://a:1"]);
  expect(pool?.worker("http://a:1//")?.url).toBe("http://a:1");
  expect(pool?.addWorker("http://a:1/")).toBe(pool?.worker("http://a:1"));
  expect(pool?.addWorker("http://c:1/").url).toBe("http://c:1");
  expect(pool?.workers()).toHaveLength(2);
});

test("a removed worker's slot is not reused while its requests are still in flight", () => {
  const pool = new Pools(config).get("heavy");
  const a = pool?.worker("http://a:1");
  pool?.state.acquire(a?.slot ?? -1);
  pool?.removeWorker("http://a:1");
  const c = pool?.addWorker("http://c:1");
  expect(c?.slot).not.toBe(a?.slot);
  expect(pool?.state.inFlight(c?.slot ?? -1)).toBe(0);
  pool?.state.release(a?.slot ?? -1);
  expect(pool?.addWorker("http://d:1").slot).toBe(a?.slot);
});

test("a reload keeps pools that stay, adds new ones and drops removed ones", () => {
  const pools = new Pools(config);
  const heavy = pools.get("heavy");
  pools.apply(parseConfig({ pools: { heavy: { workers: ["http://a:1"] }, light: { workers: ["http://l:1"] } } }));
  expect(pools.get("heavy")).toBe(heavy);
  expect(heavy?.workers().map((w) => w.url)).toEqual(["http://a:1"]);
  expect(pools.names()).toEqual(["heavy", "light"]);
  pools.apply(parseConfig({ pools: { light: { workers: ["http://l:1"] } } }));
  expect(pools.names()).toEqual(["light"]);
});

test("a mirror routes on the owner's state: same slots, shared states, and it follows membership changes", () => {
  const owner = new Pools(config);
  const heavy = owner.get("heavy");
  heavy?.state.setState(heavy.worker("http://a:1")?.slot ?? -1, SlotState.Down);
  const mirror = new Pools(config, structuredClone(owner.share()));
  const mirrored = mirror.get("heavy");
  expect(mirrored?.workers()).toEqual(heavy?.workers() ?? []);
  // Mirroring writes nothing: the owner's Down stays Down, and it is what the mirror's selection skips.
  expect(mirrored?.select()?.url).toBe("http://b:1");
  heavy?.replaceWorkers(["http://b:1", "http://c:1"]);
  mirror.mirror(config, structuredClone(owner.share()));
  expect(mirrored?.workers().map((w) => `${w.slot}:${w.url}`)).toEqual(["0:http://c:1", "1:http://b:1"]);
  expect(mirror.get("heavy")).toBe(mirrored);
});
