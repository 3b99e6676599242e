import { inputGuard } from "../../routes/input-guard.ts";
import { CLIENT_API_PATHS } from "../../routes/proxy-routes.ts";
import type { GatewayFeature } from "../gateway.ts";

/** Hostile-body checks on /v1/* and the tokenizer routes (invalid UTF-8, absurd nesting); list it after client auth. */
export function inputGuardFeature(): GatewayFeature {
  return {
    name: "input-guard",
    setup(context) {
      const guard = inputGuard();
      context.routes((app) => {
        for (const path of CLIENT_API_PATHS) app.use(path, guard);
      });
    },
  };
}
