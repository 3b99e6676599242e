import type { PoolConfig } from "../config/schema.ts";
import { leastLoadedPolicy } from "./least-loaded-policy.ts";
import { roundRobinPolicy } from "./round-robin-policy.ts";
import type { SelectionPolicy } from "./selection-policy.ts";
import { SessionAffinityPolicy } from "./session-affinity-policy.ts";

/** The policy a pool's config asks for: its balance, wrapped by session affinity when enabled. */
export function policyFor(config: Pick<PoolConfig, "balance" | "affinity" | "affinityEpsilon">): SelectionPolicy {
  const balance = config.balance === "least_loaded" ? leastLoadedPolicy : roundRobinPolicy;
  return config.affinity === "session" ? new SessionAffinityPolicy(balance, config.affinityEpsilon) : balance;
}
