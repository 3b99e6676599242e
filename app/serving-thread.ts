import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Server } from "bun";
import { createApp } from "../routes/app.ts";
import type { AppEnv } from "../routes/context.ts";
import { registerSurfaces } from "../routes/surface-routes.ts";
import { KeyLimits } from "../src/auth/key-limits.ts";
import { keyStoreFor } from "../src/auth/key-store.ts";
import { corsFeature } from "../src/auth/cors-feature.ts";
import { inputGuardFeature } from "../src/auth/input-guard-feature.ts";
import type { GatewayConfig } from "../src/config/schema.ts";
import { createGatewayCore, type GatewayContext, type GatewayCore, type GatewayFeature } from "../src/gateway.ts";
import { logger } from "../src/log.ts";
import { Pools } from "../src/pool/pools.ts";
import type { VariantSplits } from "../src/routing/model-router.ts";
import { ThreadReporter } from "../src/threads/thread-report.ts";
import { drain, listen } from "./gateway-app.ts";
import type { OwnerMessage, ThreadMessage } from "./thread-messages.ts";

/**
 * A serving thread (Bun Worker): its own Bun.serve on the shared port (reusePort) routing on the owner's
 * pool state in shared memory. What must be single stays with the owner: this thread forwards those routes
 * to the owner's private listener and hands it finished requests and worker feedback in batches.
 */
declare const self: Worker;

/** Answered by the owner only: one registry, one admin, one dashboard, one feedback index, one probe round. */
const OWNER_ROUTES = ["/metrics", "/admin/*", "/dashboard", "/dashboard/*", "/v1/feedback", "/ready", "/openapi.json"];

const post = (message: ThreadMessage): void => self.postMessage(message);

/** Reports to the owner; `replaceConfig` is how the owner's reloads reach this thread's core. */
function threadFeature(reporter: ThreadReporter, onContext: (context: GatewayContext) => void): GatewayFeature {
  return {
    name: "serving-thread",
    setup(context) {
      context.setFeedback(reporter.feedback());
      context.onFinish((record) => reporter.record(record));
      onContext(context);
    },
  };
}

/** The owner's client keys, admitted against its shared buckets; the owner charges tokens from the records. */
function sharedClientAuth(buffer: SharedArrayBuffer): GatewayFeature {
  return {
    name: "client-auth",
    setup(context) {
      const limits = new KeyLimits(undefined, buffer);
      context.expose({ kind: "client-auth", keys: () => keyStoreFor(context.config()), limits });
    },
  };
}

/** Forwards a request to the owner thread as it came, and its answer back as it is. */
function forwardTo(ownerUrl: string): (c: Context<AppEnv>) => Promise<Response> {
  return async (c) => {
    const incoming = new URL(c.req.url);
    const request = c.req.raw;
    const bodyless = request.method === "GET" || request.method === "HEAD";
    const answer = await fetch(`${ownerUrl}${incoming.pathname}${incoming.search}`, {
      method: request.method,
      headers: request.headers,
      body: bodyless ? undefined : await request.arrayBuffer(),
      signal: request.signal,
      redirect: "manual",
    });
    const headers = new Headers(answer.headers);
    // Bun's fetch already decompressed the body.
    headers.delete("content-encoding");
    headers.delete("content-length");
    return new Response(answer.body, { status: answer.status, headers });
  };
}

function threadApp(core: GatewayCore, index: number, ownerUrl: string): OpenAPIHono<AppEnv> {
  return createApp(core, (hono) => {
    const forward = forwardTo(ownerUrl);
    for (const path of OWNER_ROUTES) hono.all(path, forward);
    // Which thread took a connection: tests and operators can see the split.
    hono.get("/health", (c) => c.body(null, 200, { "x-ringgate-thread": String(index) }));
    registerSurfaces(hono, core.surfaces, core.config);
  });
}

async function start(message: Extract<OwnerMessage, { type: "start" }>): Promise<void> {
  const { config } = message;
  const pools = new Pools(config, message.pools);
  const reporter = new ThreadReporter((report) => post({ type: "report", report }));
  let replaceConfig: (next: GatewayConfig) => void = () => undefined;
  const reporting = threadFeature(reporter, (context) => {
    replaceConfig = (next) => void context.replaceConfig(next);
  });
  const auth = message.keyLimits ? [sharedClientAuth(message.keyLimits)] : [];
  const features = [reporting, corsFeature(), ...auth, inputGuardFeature()];
  let splits = message.splits;
  const runtime: VariantSplits = { variants: (model, configured) => splits[model] ?? configured };
  const core = await createGatewayCore({ config, pools, features, splits: runtime });
  const app = threadApp(core, message.index, message.ownerUrl);
  const address = { port: message.port, hostname: message.hostname, reusePort: true };
  const server: Server<unknown> = listen(app, config, address);
  self.onmessage = (event: MessageEvent<OwnerMessage>) => {
    const next = event.data;
    if (next.type === "pools") {
      // A mirror's apply() leaves membership alone; mirror() then takes the owner's slots.
      replaceConfig(next.config);
      pools.mirror(next.config, next.pools);
      splits = next.splits;
    } else if (next.type === "event") {
      core.events.emit(next.event);
    } else if (next.type === "drain") {
      void drain(server, next.graceMs).then(() => {
        reporter.flush();
        post({ type: "drained" });
      });
    }
  };
  post({ type: "listening" });
}

self.onmessage = (event: MessageEvent<OwnerMessage>) => {
  if (event.data.type !== "start") return;
  start(event.data).catch((error: unknown) => {
    logger.error({ err: error }, "serving thread failed to start");
    process.exit(1);
  });
};
