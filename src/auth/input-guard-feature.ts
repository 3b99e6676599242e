import type { GatewayFeature } from "../gateway.ts";

/** Hostile-body checks on /v1/* and the tokenizer routes (invalid UTF-8, absurd nesting); list it after client auth. */
export function inputGuardFeature(): GatewayFeature {
  return {
    name: "input-guard",
    setup(context) {
      context.expose({ kind: "input-guard" });
    },
  };
}
