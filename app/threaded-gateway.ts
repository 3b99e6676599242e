import { type GatewayCore, type GatewayFeature, createGatewayCore } from "../src/gateway.ts";
import type { WorkerEvent } from "../src/health/worker-events.ts";
import { applyThreadReport } from "../src/threads/thread-report.ts";
import { drain, type GatewayHandle, type GatewayOptions, listen, serveCore } from "./gateway-app.ts";
import { ServingThreads } from "./serving-threads.ts";
import type { RuntimeSplits } from "./thread-messages.ts";

export interface ThreadedGatewayOptions extends GatewayOptions {
  /** Serving threads in all, the owner (main) thread included; 1 is the plain single-thread gateway. */
  threads: number;
}

export interface ThreadedGateway extends GatewayHandle {
  threads: ServingThreads;
}

/**
 * `THREADS` > 1: the owner (main) thread runs every feature (probes and health, the sink, Prometheus,
 * admin, reload, discovery) and serves like any thread; `threads - 1` more serve the same port with
 * reusePort on the owner's pool state in shared memory, and report their requests back in batches.
 */
export async function startThreadedGateway(options: ThreadedGatewayOptions): Promise<ThreadedGateway> {
  let push = (): void => undefined;
  let forward = (_event: WorkerEvent): void => undefined;
  const following: GatewayFeature = {
    name: "thread-owner",
    setup(context) {
      context.onConfigReplaced(() => push());
      context.services.variantWeights?.onChange(() => push());
      context.events.on((event) => {
        forward(event);
        if (event.state === "added" || event.state === "removed") push();
      });
    },
  };
  const core = await createGatewayCore({ ...options, features: [...(options.features ?? []), following] });
  const handle = serveCore(core, { ...options, reusePort: true });
  // The owner's own door for what threads forward: a public request may land on any thread, this one not.
  const ownerServer = listen(handle.app, core.config(), { port: 0, hostname: "127.0.0.1" });
  const threads = new ServingThreads({
    count: options.threads - 1,
    ownerUrl: `http://127.0.0.1:${ownerServer.port}`,
    port: handle.port,
    hostname: options.hostname ?? core.config().host,
    state: () => ({ config: core.config(), pools: core.pools.share(), splits: runtimeSplits(core) }),
    onReport: (report) => applyThreadReport(report, core),
    keyLimits: core.surfaces.find((surface) => surface.kind === "client-auth")?.limits.buffer,
  });
  push = () => threads.push();
  forward = (event) => threads.event(event);
  await threads.start().catch(async (error: unknown) => {
    // A thread that cannot start fails start-up as a whole, like a port that cannot be bound.
    await threads.drain(0);
    await ownerServer.stop(true);
    await handle.stop(0);
    throw error;
  });
  return {
    ...handle,
    threads,
    stop: async (graceMs = core.config().limits.shutdownGraceMs) => {
      // Every listener stops accepting at once; the features stop after the threads' last reports.
      await Promise.all([threads.drain(graceMs), drain(handle.server, graceMs)]);
      await ownerServer.stop(true);
      await core.stop();
    },
  };
}

/** Each `variants` model's split as the owner routes it now (the configured one unless changed at runtime). */
function runtimeSplits(core: GatewayCore): RuntimeSplits {
  const weights = core.services.variantWeights;
  const splits: RuntimeSplits = {};
  for (const [model, entry] of Object.entries(core.config().models)) {
    if (weights && "variants" in entry) splits[model] = weights.variants(model, entry.variants);
  }
  return splits;
}
