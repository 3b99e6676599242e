import { logger } from "../log.ts";
import type { Pools } from "../pool/pools.ts";
import type { FetchLike } from "../proxy/forward.ts";

const LOOKUP_TIMEOUT_MS = 2_000;

/**
 * The model each worker actually serves: the `root` of its `GET /v1/models` (the HF id behind the
 * served name), so a result is tied to the weights that produced it. Read off the request path, once
 * per worker and again after the worker comes back (it may have been restarted with another model).
 */
export class WorkerModels {
  readonly #models = new Map<string, string>();
  readonly #pending = new Set<string>();
  readonly #pools: Pools;
  readonly #fetch: FetchLike;

  constructor(pools: Pools, fetchImpl: FetchLike) {
    this.#pools = pools;
    this.#fetch = fetchImpl;
  }

  /** The known model, or undefined while the first lookup runs (it is started here). */
  modelOf(pool: string, worker: string): string | undefined {
    const model = this.#models.get(worker);
    if (model === undefined) this.refresh(pool, worker);
    return model;
  }

  /** Forgets and re-reads one worker's model in the background. */
  refresh(pool: string, worker: string): void {
    if (this.#pending.has(worker) || worker === "") return;
    this.#pending.add(worker);
    void this.#read(pool, worker).finally(() => this.#pending.delete(worker));
  }

  forget(worker: string): void {
    this.#models.delete(worker);
  }

  async #read(poolName: string, worker: string): Promise<void> {
    const apiKey = this.#pools.get(poolName)?.config.workerApiKey;
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    try {
      const response = await this.#fetch(`${worker}/v1/models`, { headers, signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) });
      if (response.status !== 200) {
        await response.body?.cancel();
        return;
      }
      const body = (await response.json()) as { data?: { root?: unknown; id?: unknown }[] };
      const first = body.data?.[0];
      const model = first?.root ?? first?.id;
      if (typeof model === "string") this.#models.set(worker, model);
    } catch (error) {
      logger.debug({ err: error, worker }, "experiments: could not read the worker's model");
    }
  }
}
