import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { GatewayError } from "../src/errors/catalog.ts";
import { logger } from "../src/log.ts";
import type { AppEnv, GatewayRuntime } from "./context.ts";
import { registerOpenApiDocument } from "./docs-openapi.ts";
import { registerDocsRoutes } from "./docs-routes.ts";
import { registerInfoRoutes } from "./info-routes.ts";
import { invalidRequest } from "./json-body.ts";
import { errorResponse, toGatewayError } from "./on-error.ts";
import { CLIENT_API_PATHS, isClientApiPath, registerProxyRoutes } from "./proxy-routes.ts";
import { requestId } from "./request-id.ts";

/** The gateway's HTTP surface. Extra route groups (metrics, admin) register through `extend`. */
export function createApp(runtime: GatewayRuntime, extend: (app: OpenAPIHono<AppEnv>) => void = () => undefined): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.error);
    },
  });
  app.use(requestId());
  // Built per request so a reloaded limit applies at once; Hono's bodyLimit is a plain closure.
  const limitBody: MiddlewareHandler<AppEnv> = (c, next) => {
    const maxSize = runtime.config().limits.maxBodyBytes;
    const onError = (): never => {
      throw new GatewayError("payload_too_large", `Request body is larger than ${maxSize} bytes.`);
    };
    return bodyLimit({ maxSize, onError })(c, next);
  };
  for (const path of CLIENT_API_PATHS) app.use(path, limitBody);
  extend(app);
  registerProxyRoutes(app, runtime);
  registerInfoRoutes(app, runtime);
  registerOpenApiDocument(app);
  registerDocsRoutes(app);
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => errorResponse(c, new GatewayError("method_not_allowed", `Method ${c.req.method} is not allowed here; use ${methods.join(", ")}.`, { headers: { allow: methods.join(", ") } })),
    }),
  );
  app.notFound((c) => errorResponse(c, new GatewayError("not_found", `No route ${c.req.method} ${c.req.path}.`)));
  app.onError((error, c) => {
    const mapped = toGatewayError(error);
    if (mapped.code === "internal_error") logger.error({ err: error, requestId: c.get("requestId") }, "unhandled error");
    if (!mapped.recorded && isClientApiPath(c.req.path)) {
      const latencyMs = performance.now() - c.get("receivedAtMs");
      runtime.onRejected({ request: c.req.raw, requestId: c.get("requestId"), error: mapped.markRecorded(), keyName: c.get("keyName"), latencyMs });
    }
    return errorResponse(c, mapped);
  });
  return app;
}
