import { hostname } from "node:os";
import type Redis from "ioredis";
import { EVENTS_STREAM } from "./record-encoding.ts";

/** Ids of gateway instances that hold a ledger entry. */
const INSTANCES_KEY = "ringgate:instances";

/** One instance's cumulative counts, as the gateway knows them. */
export interface LedgerCounts {
  /** Entries taken into the buffer (overflow not included: it is counted as dropped). */
  accepted: number;
  /** Entries Redis confirmed written (a lost reply may leave this behind Redis' own count). */
  written: number;
  /** Entries Redis refused for good (counted as dropped too). */
  refused: number;
}

export interface LostEntries {
  instance: string;
  host: string;
  pid: string;
  lost: number;
}

/** Raises a hash field to a value, never lowers it: updates may arrive late or twice. */
const RAISE = `
local function raise(key, field, value)
  if tonumber(redis.call('HGET', key, field) or '0') < tonumber(value) then redis.call('HSET', key, field, value) end
end`;

/** KEYS: instances, entry, lease. ARGV: id, leaseMs, accepted, written, refused, host, pid, startedMs. */
const HEARTBEAT = `${RAISE}
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
raise(KEYS[2], 'accepted', ARGV[3])
raise(KEYS[2], 'written', ARGV[4])
raise(KEYS[2], 'refused', ARGV[5])
redis.call('HSET', KEYS[2], 'host', ARGV[6], 'pid', ARGV[7], 'started_ms', ARGV[8])
redis.call('HDEL', KEYS[2], 'suspect')
return 1`;

/**
 * KEYS: instances, entry, lease, events. ARGV: id, maxLen, ts. An entry whose lease lapsed is first
 * marked suspect and only claimed on a later pass if its lease is still gone: after a Redis stall every
 * lease looks lapsed until the live instances' heartbeats get through, and those clear the mark.
 */
const REAP = `
if redis.call('EXISTS', KEYS[3]) == 1 then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) return false end
if redis.call('HSETNX', KEYS[2], 'suspect', '1') == 1 then return false end
local h = redis.call('HMGET', KEYS[2], 'accepted', 'written', 'refused', 'host', 'pid')
local lost = math.max(0, (tonumber(h[1]) or 0) - (tonumber(h[2]) or 0) - (tonumber(h[3]) or 0))
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
if lost > 0 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'ts', ARGV[3], 'pool', '', 'worker', '',
    'state', 'records_lost', 'reason', 'gateway stopped without a clean shutdown', 'actor', 'metrics',
    'instance', ARGV[1], 'host', h[4] or '', 'pid', h[5] or '', 'lost', tostring(lost))
end
return {tostring(lost), h[4] or '', h[5] or ''}`;

/** Keys of one instance's entry: counts plus host/pid, and a lease that says it is alive. */
export function entryKey(instance: string): string {
  return `ringgate:instance:${instance}`;
}

function leaseKey(instance: string): string {
  return `ringgate:instance:${instance}:lease`;
}

/**
 * Per gateway instance, a small Redis hash of entries accepted, confirmed written and refused, so a
 * gateway killed with entries buffered (SIGKILL, OOM) is counted later: its lease lapses and another
 * gateway (or its own successor) claims the entry and reports accepted − written − refused as lost.
 * The batch script adds to `written` in the same script that writes, once per batch id, so the count
 * is exact even when replies were lost. A clean stop removes the entry. What an instance accepted after
 * its last heartbeat or batch, or while Redis was unreachable, Redis never heard of and cannot count.
 */
export class InstanceLedger {
  readonly instance: string;
  readonly #redis: Redis;
  readonly #leaseMs: number;
  readonly #startedMs: string;

  constructor(redis: Redis, instance: string, leaseMs: number, nowMs: number) {
    this.#redis = redis;
    this.instance = instance;
    this.#leaseMs = leaseMs;
    this.#startedMs = String(nowMs);
  }

  async heartbeat(counts: LedgerCounts): Promise<void> {
    const { accepted, written, refused } = counts;
    await this.#redis.eval(HEARTBEAT, 3, INSTANCES_KEY, entryKey(this.instance), leaseKey(this.instance), this.instance,
      this.#leaseMs, accepted, written, refused, hostname(), process.pid, this.#startedMs);
  }

  /** Claims every other instance whose lease lapsed on two passes; returns what they had lost. */
  async reap(maxLen: string, nowMs: number): Promise<LostEntries[]> {
    const found: LostEntries[] = [];
    for (const other of await this.#redis.smembers(INSTANCES_KEY)) {
      if (other === this.instance) continue;
      const claimed = await this.#redis.eval(REAP, 4, INSTANCES_KEY, entryKey(other), leaseKey(other), EVENTS_STREAM,
        other, maxLen, nowMs);
      if (!Array.isArray(claimed)) continue;
      const [lost, host, pid] = claimed.map(String);
      found.push({ instance: other, host: host ?? "", pid: pid ?? "", lost: Number(lost) });
    }
    return found;
  }

  /** The clean-shutdown mark: everything was written, so the instance leaves no entry to count. */
  async remove(): Promise<void> {
    const keys = [entryKey(this.instance), leaseKey(this.instance)];
    await this.#redis.multi().del(...keys).srem(INSTANCES_KEY, this.instance).exec();
  }
}
