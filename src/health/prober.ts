import type { GatewayConfig } from "../config/schema.ts";
import { logger } from "../log.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";
import { type Schedule, timerSchedule } from "../timing/schedule.ts";
import { workerAuthHeaders } from "./liveness-probes.ts";
import { scrapeLoad, type WorkerLoad } from "./vllm-metrics.ts";
import type { ProbeReport, WorkerHealth } from "./worker-health.ts";

export interface ProberDeps {
  pools: Pools;
  health: WorkerHealth;
  config: () => GatewayConfig;
  fetch: FetchLike;
  /** Epoch ms. */
  now?: () => number;
  schedule?: Schedule;
}

interface ProbeResult {
  report: ProbeReport;
  load: WorkerLoad | undefined;
  /** The weights the worker serves: `root` of its `/v1/models` entry (read with `health.checkModel`). */
  servedModel?: string;
}

/**
 * Active health checks off the request path: every `health.intervalMs` each worker's `/health`, then
 * (when `health.checkModel`) whether `/v1/models` lists the pool's upstream model, and a scrape of
 * `/metrics` for load and stuck detection. Rounds never overlap; a slow worker only delays its own probe.
 */
export class Prober {
  readonly #deps: Required<ProberDeps>;
  #cancelNext: (() => void) | undefined;
  #stopped = false;
  #round: Promise<void> | undefined;

  constructor(deps: ProberDeps) {
    this.#deps = { now: Date.now, schedule: timerSchedule, ...deps };
  }

  /** Probes at once, then every interval (measured from the start of a round); resolves after the first round. */
  start(): Promise<void> {
    this.#stopped = false;
    this.#loop();
    return this.#round ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelNext?.();
    await this.#round;
  }

  /** One round over every worker of every pool; public so tests can drive rounds without waiting. */
  async probeAll(): Promise<void> {
    const probes = this.#deps.pools.all().flatMap((pool) => pool.workers().map((worker) => this.#probeOne(pool, worker)));
    await Promise.all(probes);
    this.#deps.health.sweep();
  }

  #loop(): void {
    const startedMs = this.#deps.now();
    // A failing round must neither stop the loop nor surface as an unhandled rejection.
    this.#round = this.probeAll().catch((error: unknown) => logger.error({ err: error }, "health probe round failed")).finally(() => {
      if (this.#stopped) return;
      const waitMs = Math.max(0, this.#deps.config().health.intervalMs - (this.#deps.now() - startedMs));
      this.#cancelNext = this.#deps.schedule(() => this.#loop(), waitMs);
    });
  }

  async #probeOne(pool: Pool, worker: Worker): Promise<void> {
    const result = await probeWorker(pool, worker, this.#deps.fetch, this.#deps.config(), this.#deps.now);
    if (this.#stopped) return;
    this.#deps.health.probed(worker, result.report);
    if (result.load) this.#deps.health.loaded(worker, result.load);
    if (result.servedModel) this.#deps.health.served(worker, result.servedModel);
  }
}

/** Probes one worker within `health.timeoutMs`; never throws. */
export async function probeWorker(pool: Pool, worker: Worker, fetchImpl: FetchLike, config: GatewayConfig, now: () => number): Promise<ProbeResult> {
  const startedMs = now();
  const signal = AbortSignal.timeout(config.health.timeoutMs);
  const headers = workerAuthHeaders(pool);
  const get = (path: string): Promise<Response> => fetchImpl(worker.url + path, { method: "GET", headers, signal });
  const done = (ok: boolean, detail: string, extra: { refused?: boolean; timedOut?: boolean; load?: WorkerLoad } = {}): ProbeResult => ({
    report: { ok, refused: extra.refused ?? false, timedOut: extra.timedOut ?? false, detail, latencyMs: now() - startedMs },
    load: extra.load,
  });
  try {
    const health = await get("/health");
    await health.body?.cancel();
    if (health.status !== 200) return done(false, `/health answered ${health.status}`);
    const [models, load, sleeping] = await Promise.all([
      config.health.checkModel ? servedModels(get, pool.upstreamModel) : undefined,
      scrapeLoad(get, now),
      sleepingNow(get),
    ]);
    const problem = sleeping ?? models?.problem;
    const result = problem ? done(false, problem, { load }) : done(true, "/health 200", { load });
    return models?.root ? { ...result, servedModel: models.root } : result;
  } catch (error) {
    if (signal.aborted) return done(false, `no answer within ${config.health.timeoutMs} ms`, { timedOut: true });
    return done(false, errorText(error), { refused: isRefused(error) });
  }
}

/** Why the worker does not serve `model` (no `problem` when it does), and the `root` behind that name. */
async function servedModels(
  get: (path: string) => Promise<Response>,
  model: string,
): Promise<{ problem?: string; root?: string }> {
  const response = await get("/v1/models");
  if (response.status !== 200) {
    await response.body?.cancel();
    return { problem: `/v1/models answered ${response.status}` };
  }
  const body = (await response.json()) as { data?: { id?: unknown; root?: unknown }[] };
  const entries = body.data ?? [];
  const ids = entries.map((entry) => String(entry.id));
  const root = entries.find((entry) => entry.id === model)?.root;
  if (!ids.includes(model)) return { problem: `serves [${ids.join(", ")}], not the pool's model ${model}` };
  return typeof root === "string" ? { root } : {};
}

/**
 * vLLM sleep mode: a sleeping worker answers /health 200 but fails generation, so it must not serve.
 * /is_sleeping exists only with `--enable-sleep-mode` (and, on v0.11.0, VLLM_SERVER_DEV_MODE=1); a 404
 * or any other failure means "not sleeping".
 */
async function sleepingNow(get: (path: string) => Promise<Response>): Promise<string | undefined> {
  try {
    const response = await get("/is_sleeping");
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as { is_sleeping?: unknown };
    return body.is_sleeping === true ? "sleeping (/is_sleeping true)" : undefined;
  } catch {
    return undefined;
  }
}

function isRefused(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ECONNREFUSED" || code === "ConnectionRefused";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
