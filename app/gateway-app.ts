import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Server } from "bun";
import { createApp } from "../routes/app.ts";
import type { AppEnv } from "../routes/context.ts";
import { registerSurfaces } from "../routes/surface-routes.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import { createGatewayCore, type GatewayCore, type GatewayCoreOptions, type GatewayServices } from "../src/gateway.ts";
import type { WorkerEventBus } from "../src/health/worker-events.ts";
import { logger } from "../src/log.ts";
import type { Pools } from "../src/pool/pools.ts";

/**
 * The composition root: the core (src/) under the HTTP surface (routes/), listening. `main.ts`, the demo,
 * the test fixtures and the serving threads all start a gateway here; nothing in src/ or routes/ imports it.
 */
export interface GatewayOptions extends GatewayCoreOptions {
  port?: number;
  hostname?: string;
  /** Lets serving threads bind the same port (`THREADS` > 1). */
  reusePort?: boolean;
}

export interface GatewayHandle {
  url: string;
  port: number;
  pools: Pools;
  events: WorkerEventBus;
  services: GatewayServices;
  server: Server<unknown>;
  /** The HTTP app, e.g. for walking its routes. */
  app: OpenAPIHono<AppEnv>;
  config(): GatewayConfig;
  /** Stops accepting, lets in-flight requests finish within `graceMs`, then closes what is left. */
  stop(graceMs?: number): Promise<void>;
}

/** The HTTP app over a core: the features' surfaces in setup order, then the proxy and info routes. */
export function gatewayApp(core: GatewayCore): OpenAPIHono<AppEnv> {
  return createApp(core, (hono) => registerSurfaces(hono, core.surfaces, core.config));
}

/** Starts one gateway listener with its features. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  return serveCore(await createGatewayCore(options), options);
}

/** Listens with the full HTTP app over a core already set up. */
export function serveCore(core: GatewayCore, options: Omit<GatewayOptions, keyof GatewayCoreOptions>): GatewayHandle {
  const app = gatewayApp(core);
  const server = listen(app, core.config(), options);
  const port = server.port ?? 0;
  return {
    url: `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${port}`,
    port,
    pools: core.pools,
    events: core.events,
    services: core.services,
    server,
    app,
    config: core.config,
    stop: async (graceMs = core.config().limits.shutdownGraceMs) => {
      await drain(server, graceMs);
      await core.stop();
    },
  };
}

export function listen(
  app: OpenAPIHono<AppEnv>,
  config: GatewayConfig,
  options: Pick<GatewayOptions, "port" | "hostname" | "reusePort">,
): Server<unknown> {
  return Bun.serve({
    hostname: options.hostname ?? config.host,
    port: options.port ?? config.port,
    reusePort: options.reusePort ?? false,
    idleTimeout: config.limits.serverIdleTimeoutS,
    // Hono's bodyLimit answers 413 in our envelope; Bun's own cap (a bare 413) is only a backstop far above it.
    maxRequestBodySize: Math.max(config.limits.maxBodyBytes * 4, 16 * 1024 * 1024),
    fetch: (request, server) => app.fetch(request, { server }),
    error: (error) => {
      logger.error({ err: error }, "server error");
      const body = { error: { message: "internal error", type: "server_error", param: null, code: "internal_error" } };
      return new Response(JSON.stringify(body), { status: 500, headers: { "content-type": "application/json" } });
    },
  });
}

export async function drain(server: Server<unknown>, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      void server.stop(true);
      resolve();
    }, graceMs);
  });
  await Promise.race([server.stop(false), forced]);
  clearTimeout(timer);
}
