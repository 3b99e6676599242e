import { corsMiddleware } from "../../routes/cors.ts";
import { CLIENT_API_PATHS } from "../../routes/proxy-routes.ts";
import type { GatewayFeature } from "../gateway.ts";

/** Browser access to /v1/* and the tokenizer routes; registered before client auth so preflights need no key. */
export function corsFeature(): GatewayFeature {
  return {
    name: "cors",
    setup(context) {
      const cors = corsMiddleware(context.config);
      context.routes((app) => {
        for (const path of CLIENT_API_PATHS) app.use(path, cors);
      });
    },
  };
}
