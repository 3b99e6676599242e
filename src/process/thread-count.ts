import { availableParallelism } from "node:os";
import { ConfigError } from "../config/load.ts";

/** `THREADS`: how many threads serve the port; unset is 1, `auto` is one per available core. */
export function threadCount(value: string | undefined, cores: number = availableParallelism()): number {
  if (value === undefined || value.trim() === "") return 1;
  if (value.trim() === "auto") return Math.max(1, cores);
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new ConfigError(`THREADS: got "${value}", expected a whole number of at least 1 or "auto"`);
  }
  return count;
}
