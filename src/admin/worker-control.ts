import { canonicalWorkerUrl } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { WorkerEvent, WorkerEventBus } from "../health/worker-events.ts";
import type { WorkerHealth, WorkerSnapshot } from "../health/worker-health.ts";
import { logger } from "../log.ts";
import type { Pool, Pools, Worker } from "../pool/pools.ts";

/**
 * Operator actions on workers. Drain and undrain go through the health registry (the only writer of
 * slot states): selection skips a drained worker, and requests already on it finish normally. Add and
 * remove change pool membership. Every action is logged and emitted as a `WorkerEvent` whose actor is
 * the admin key's name.
 */
export class WorkerControl {
  readonly #pools: Pools;
  readonly #events: WorkerEventBus;
  readonly #health: WorkerHealth;

  constructor(pools: Pools, events: WorkerEventBus, health: WorkerHealth) {
    this.#pools = pools;
    this.#events = events;
    this.#health = health;
  }

  drain(poolName: string, url: string, actor: string): WorkerSnapshot {
    // The registry finds the worker; checking the pool first makes an unknown pool's 404 name `pool`.
    this.#pool(poolName);
    const snapshot = this.#health.drain(poolName, url, actor);
    logger.info({ actor, action: "drain", pool: poolName, worker: snapshot.url }, "admin action");
    return snapshot;
  }

  undrain(poolName: string, url: string, actor: string): WorkerSnapshot {
    this.#pool(poolName);
    const snapshot = this.#health.undrain(poolName, url, actor);
    logger.info({ actor, action: "undrain", pool: poolName, worker: snapshot.url }, "admin action");
    return snapshot;
  }

  add(poolName: string, rawUrl: string, actor: string): Worker {
    const pool = this.#pool(poolName);
    const url = canonicalWorkerUrl(rawUrl);
    if (pool.worker(url)) throw new GatewayError("invalid_request", `Pool \`${poolName}\` already has the worker ${url}.`, { param: "url" });
    let worker: Worker;
    try {
      worker = pool.addWorker(url);
    } catch (error) {
      throw new GatewayError("invalid_request", (error as Error).message, { param: "url" });
    }
    this.#emit(worker, "added", "operator added the worker", actor);
    return worker;
  }

  remove(poolName: string, url: string, actor: string): Worker {
    const pool = this.#pool(poolName);
    const worker = this.#health.find(poolName, url);
    pool.removeWorker(worker.url);
    this.#emit(worker, "removed", "operator removed the worker; in-flight requests finish", actor);
    return worker;
  }

  #pool(poolName: string): Pool {
    const pool = this.#pools.get(poolName);
    if (!pool) throw new GatewayError("not_found", `No pool \`${poolName}\`. Pools: ${this.#pools.names().join(", ")}.`, { param: "pool" });
    return pool;
  }

  #emit(worker: Worker, state: string, reason: string, actor: string): void {
    const event: WorkerEvent = { ts: Date.now(), pool: worker.pool, worker: worker.url, state, reason, actor };
    logger.info({ actor, action: state, pool: worker.pool, worker: worker.url }, "admin action");
    this.#events.emit(event);
  }
}
