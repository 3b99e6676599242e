import { inputGuard } from "../../routes/input-guard.ts";
import type { GatewayFeature } from "../gateway.ts";

/** Hostile-body checks on /v1/* (invalid UTF-8, absurd nesting); list it after client auth. */
export function inputGuardFeature(): GatewayFeature {
  return {
    name: "input-guard",
    setup(context) {
      context.routes((app) => app.use("/v1/*", inputGuard()));
    },
  };
}
