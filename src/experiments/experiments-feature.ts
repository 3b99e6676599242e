import type { GatewayFeature } from "../gateway.ts";
import { VariantGuards } from "./variant-guard.ts";
import { VariantWeights } from "./variant-weights.ts";

/**
 * Runtime variant weights and guarded rollouts. Publishes the weights as `services.variantWeights`:
 * the model router reads its splits from there and the admin routes change them. List it before admin.
 */
export function experimentsFeature(): GatewayFeature {
  return {
    name: "experiments",
    setup(context) {
      const weights = new VariantWeights(context.config, context.events);
      const guards = new VariantGuards({ weights, config: context.config });
      context.services.variantWeights = weights;
      context.onConfigReplaced((config) => weights.reconcile(config));
      context.onFinish((record) => guards.observe(record));
      guards.start();
      context.onStop(() => guards.stop());
    },
  };
}
