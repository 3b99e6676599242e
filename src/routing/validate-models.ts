import type { GatewayConfig } from "../config/schema.ts";
import { targetsOf } from "./model-router.ts";

/**
 * Cross-checks `models` against itself and the pools, and the pools' `contextFallback`; returns one line
 * naming the field, the value and what was expected, or undefined when all is sound. Runs at start and on
 * every admin reload.
 */
export function routingProblem(config: Pick<GatewayConfig, "models" | "pools">): string | undefined {
  const known = [...Object.keys(config.models), ...Object.keys(config.pools)];
  for (const [name, entry] of Object.entries(config.models)) {
    if (name in config.pools) return `models.${name}: "${name}" is also a pool; a name is either a model or a pool`;
    const field = "route" in entry ? "route" : "variants" in entry ? "variants" : "prefer";
    for (const target of targetsOf(entry)) {
      if (!known.includes(target))
        return `models.${name}.${field}: got "${target}", expected a model or pool (${known.join(", ")})`;
    }
    if ("variants" in entry && !(entry.variants.reduce((sum, variant) => sum + variant.weight, 0) > 0)) {
      return `models.${name}.variants: weights sum to 0, expected a total above 0`;
    }
  }
  for (const [name, pool] of Object.entries(config.pools)) {
    for (const target of pool.contextFallback) {
      if (target in config.pools && target !== name) continue;
      const others = Object.keys(config.pools)
        .filter((other) => other !== name)
        .join(", ");
      return `pools.${name}.contextFallback: got "${target}", expected another configured pool (${others})`;
    }
  }
  const cycle = findCycle(config.models);
  return cycle && `models: got a cycle ${cycle.join(" → ")}, expected every name to lead to a pool`;
}

/** Depth-first search over model → target edges; the first cycle found, as the names along it. */
function findCycle(models: GatewayConfig["models"]): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const entry = models[name];
    if (!entry || done.has(name)) return undefined;
    const at = path.indexOf(name);
    if (at >= 0) return [...path.slice(at), name];
    path.push(name);
    for (const target of targetsOf(entry)) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(name);
    return undefined;
  };
  for (const name of Object.keys(models)) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}
