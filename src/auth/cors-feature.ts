import { corsMiddleware } from "../../routes/cors.ts";
import type { GatewayFeature } from "../gateway.ts";

/** Browser access to /v1/*; registered before client auth so preflights need no key. */
export function corsFeature(): GatewayFeature {
  return {
    name: "cors",
    setup(context) {
      context.routes((app) => app.use("/v1/*", corsMiddleware(context.config)));
    },
  };
}
