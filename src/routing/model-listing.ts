import type { GatewayConfig } from "../config/schema.ts";
import type { Pools } from "../pool/pools.ts";
import type { ModelRouter } from "./model-router.ts";

export interface ModelRouting {
  kind: "pool" | "alias" | "variants" | "tier";
  pools: string[];
  route?: string;
  variants?: { pool: string; weight: number }[];
  prefer?: string[];
  ttftBudgetMs?: number;
}

/** Every name a client may send as `model` (models first, then pools) with how it routes. */
export function listModels(
  config: GatewayConfig,
  pools: Pools,
  router: ModelRouter,
): { id: string; routing: ModelRouting }[] {
  const models = Object.entries(config.models).map(([id, entry]) => {
    const reachable = router.reachablePools(id);
    if ("route" in entry) return { id, routing: { kind: "alias" as const, pools: reachable, route: entry.route } };
    if ("variants" in entry) {
      return {
        id,
        routing: { kind: "variants" as const, pools: reachable, variants: entry.variants.map((v) => ({ ...v })) },
      };
    }
    const tier: ModelRouting = { kind: "tier", pools: reachable, prefer: [...entry.prefer] };
    if (entry.ttftBudgetMs !== undefined) tier.ttftBudgetMs = entry.ttftBudgetMs;
    return { id, routing: tier };
  });
  const poolEntries = pools
    .names()
    .map((id) => ({ id, routing: { kind: "pool" as const, pools: router.reachablePools(id) } }));
  return [...models, ...poolEntries];
}
