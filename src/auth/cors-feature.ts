import type { GatewayFeature } from "../gateway.ts";

/** Browser access to /v1/* and the tokenizer routes; registered before client auth so preflights need no key. */
export function corsFeature(): GatewayFeature {
  return {
    name: "cors",
    setup(context) {
      context.expose({ kind: "cors" });
    },
  };
}
