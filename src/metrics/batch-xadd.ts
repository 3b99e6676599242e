import type Redis from "ioredis";
import type { FlatFields } from "./record-encoding.ts";

/** The writing instance's ledger entry (see InstanceLedger) and its counts when this attempt was sent. */
export interface LedgerUpdate {
  readonly key: string;
  readonly accepted: number;
  readonly refused: number;
}

/** One sealed batch: the same id and entries on every attempt, so Redis can tell a re-send. */
export interface Batch {
  /** Unique per gateway instance and batch, e.g. `ringgate:batch:<instance>:<seq>`. */
  readonly idKey: string;
  readonly stream: string;
  /** Each entry's fields already as the JSON array the script decodes. */
  readonly entries: readonly string[];
}

/**
 * `XADD key MAXLEN ~ N * field value…` once per entry, run inside Redis, at most once per batch id.
 * An attempt that timed out on our side still runs when Redis gets to it, so a re-sent batch must be
 * recognised there: the id is claimed (SET NX with a TTL) in the same script that writes the entries.
 * The TTL only has to outlast the attempts of one batch, which all run right after the first one.
 * Each entry travels as one JSON array argument: measured on the 2-core box, ioredis spent ~15–24 µs of
 * gateway CPU per pipelined 40-argument XADD and ~3 µs per entry this way. The id is checked before
 * the entries are decoded, so a re-send costs Redis next to nothing. Redis does not undo a script's
 * earlier writes when it fails part-way, so every entry is decoded before the first XADD: a batch Redis
 * rejects leaves no entry behind (it is dropped, never re-sent, so its claimed id does not matter).
 * The instance's ledger counts the batch as written in the same script, once, and takes the instance's
 * accepted/refused counts when they are higher than its own.
 */
const SCRIPT = `
for field, i in pairs({accepted = 3, refused = 4}) do
  if tonumber(redis.call('HGET', KEYS[3], field) or '0') < tonumber(ARGV[i]) then
    redis.call('HSET', KEYS[3], field, ARGV[i])
  end
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 0 end
local entries = {}
for i = 5, #ARGV do entries[i - 4] = cjson.decode(ARGV[i]) end
for _, fields in ipairs(entries) do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
end
redis.call('HINCRBY', KEYS[3], 'written', #entries)
return 1`;

const SCRIPT_SHA = new Bun.CryptoHasher("sha1").update(SCRIPT).digest("hex");
/** Ample: a re-sent attempt runs within moments of the first, even after a long stall. */
const BATCH_ID_TTL_MS = "3600000";

/** Encodes one entry for the script (done once per batch, not per attempt). */
export function entryArgument(fields: FlatFields): string {
  return JSON.stringify(fields.map(wellFormed));
}

/** True when this attempt wrote the batch, false when an earlier attempt already had. */
export async function batchXadd(
  redis: Redis,
  batch: Batch,
  maxLen: string,
  ledger: LedgerUpdate,
): Promise<boolean> {
  if (batch.entries.length === 0) return false;
  const { key, accepted, refused } = ledger;
  const keys = [batch.stream, batch.idKey, key] as const;
  const args = [keys.length, ...keys, maxLen, BATCH_ID_TTL_MS, accepted, refused, ...batch.entries] as const;
  try {
    return (await redis.evalsha(SCRIPT_SHA, ...args)) === 1;
  } catch (error) {
    // A restarted Redis has an empty script cache; EVAL loads it again.
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return (await redis.eval(SCRIPT, ...args)) === 1;
  }
}

/** Lone UTF-16 surrogates (a worker's model name could carry one) make Redis's cjson refuse the batch. */
function wellFormed(value: string): string {
  return value.isWellFormed() ? value : value.toWellFormed();
}
