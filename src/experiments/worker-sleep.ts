import type { GatewayConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { WorkerEventBus } from "../health/worker-events.ts";
import type { WorkerHealth } from "../health/worker-health.ts";
import { probeWorker } from "../health/prober.ts";
import { logger } from "../log.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";

export interface WorkerSleepDeps {
  pools: Pools;
  health: WorkerHealth;
  events: WorkerEventBus;
  config: () => GatewayConfig;
  fetch: FetchLike;
  now?: () => number;
  /** Pause between checks while waiting for in-flight requests or a passing probe. */
  pollMs?: number;
}

/**
 * vLLM sleep mode (level 1) for one worker without failing a request. Sleep: drain (selection skips
 * the worker), wait until the gateway has nothing in flight on it, then `POST /sleep?level=1`; the
 * worker stays drained while it sleeps. Wake: `POST /wake_up` (it returns once the weights are back),
 * then probe until the health thresholds pass, and only then undrain. Each step is an event with the actor.
 */
export class WorkerSleep {
  readonly #deps: Required<WorkerSleepDeps>;

  constructor(deps: WorkerSleepDeps) {
    this.#deps = { now: Date.now, pollMs: 20, ...deps };
  }

  async sleep(poolName: string, url: string, actor: string): Promise<Worker> {
    const { pool, worker } = this.#find(poolName, url);
    this.#deps.health.drain(poolName, worker.url, actor);
    const waitMs = this.#deps.config().timeouts.totalMs;
    const deadlineMs = this.#deps.now() + waitMs;
    while (pool.state.inFlight(worker.slot) > 0) {
      if (this.#deps.now() > deadlineMs) {
        throw new GatewayError(
          "upstream_timeout",
          `${worker.url} still had requests in flight after ${waitMs} ms; it stays drained, awake.`,
          { param: "url" },
        );
      }
      await Bun.sleep(this.#deps.pollMs);
    }
    await this.#post(pool, worker, "/sleep?level=1");
    this.#emit(worker, "sleeping", "drained, in-flight requests finished, then slept (level 1)", actor);
    return worker;
  }

  async wake(poolName: string, url: string, actor: string): Promise<Worker> {
    const { pool, worker } = this.#find(poolName, url);
    await this.#post(pool, worker, "/wake_up");
    await this.#untilProbesPass(pool, worker);
    this.#deps.health.undrain(poolName, worker.url, actor);
    this.#emit(worker, "woken", "woke up and passed its probe; takes traffic again", actor);
    return worker;
  }

  /** Probes until `healthyThreshold` probes in a row pass, feeding the registry like the prober does. */
  async #untilProbesPass(pool: Pool, worker: Worker): Promise<void> {
    const { health: thresholds, timeouts } = this.#deps.config();
    const deadlineMs = this.#deps.now() + timeouts.totalMs;
    let passes = 0;
    let detail = "";
    while (passes < thresholds.healthyThreshold) {
      const result = await probeWorker(pool, worker, this.#deps.fetch, this.#deps.config(), this.#deps.now);
      this.#deps.health.probed(worker, result.report);
      passes = result.report.ok ? passes + 1 : 0;
      detail = result.report.detail;
      if (passes >= thresholds.healthyThreshold) return;
      if (this.#deps.now() > deadlineMs) {
        throw new GatewayError(
          "upstream_timeout",
          `${worker.url} woke but did not pass its probe (${detail}); it stays drained.`,
          { param: "url" },
        );
      }
      await Bun.sleep(this.#deps.pollMs);
    }
  }

  async #post(pool: Pool, worker: Worker, path: string): Promise<void> {
    const apiKey = pool.config.workerApiKey;
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    let response: Response;
    try {
      response = await this.#deps.fetch(worker.url + path, {
        method: "POST",
        headers,
        signal: AbortSignal.timeout(this.#deps.config().timeouts.totalMs),
      });
    } catch (error) {
      throw new GatewayError("upstream_unreachable", `${worker.url}${path} failed: ${(error as Error).message}`, {
        param: "url",
      });
    }
    await response.body?.cancel();
    if (response.status === 404) {
      throw new GatewayError(
        "upstream_error",
        `${worker.url} has no ${path.split("?")[0]}: start vLLM with --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1.`,
        { param: "url" },
      );
    }
    if (response.status !== 200)
      throw new GatewayError("upstream_error", `${worker.url}${path} answered ${response.status}.`, { param: "url" });
  }

  #find(poolName: string, url: string): { pool: Pool; worker: Worker } {
    const pool = this.#deps.pools.get(poolName);
    if (!pool)
      throw new GatewayError("not_found", `No pool \`${poolName}\`. Pools: ${this.#deps.pools.names().join(", ")}.`, {
        param: "pool",
      });
    return { pool, worker: this.#deps.health.find(poolName, url) };
  }

  #emit(worker: Worker, state: string, reason: string, actor: string): void {
    logger.info({ actor, action: state, pool: worker.pool, worker: worker.url }, "admin action");
    this.#deps.events.emit({ ts: this.#deps.now(), pool: worker.pool, worker: worker.url, state, reason, actor });
  }
}
