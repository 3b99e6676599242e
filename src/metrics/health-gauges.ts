import { Counter, Gauge, type Registry } from "prom-client";
import type { WorkerHealth, WorkerSnapshot } from "../health/worker-health.ts";

/** Every state health can report, so each worker has a 0/1 series per state (alerts compare to 0). */
const HEALTH_STATES = ["healthy", "starting", "unhealthy", "stuck", "ejected", "probation", "trial", "drained"] as const satisfies readonly WorkerSnapshot["state"][];

/** Health's view of each worker, read at scrape time from the health feature's registry. */
export function registerHealthGauges(registry: Registry, health: WorkerHealth): void {
  const registers = [registry];
  new Gauge({
    name: "ringgate_worker_health_state", help: "1 for the worker's current health state (healthy, starting, unhealthy, stuck, ejected, probation, trial, drained).", labelNames: ["pool", "worker", "state"], registers,
    collect() {
      this.reset();
      ejections.reset();
      info.reset();
      for (const workers of Object.values(health.snapshot())) {
        for (const worker of workers) {
          for (const state of HEALTH_STATES) this.set({ pool: worker.pool, worker: worker.url, state }, worker.state === state ? 1 : 0);
          ejections.inc({ pool: worker.pool, worker: worker.url }, worker.ejections);
          const model = health.servedModel(worker.url);
          if (model !== undefined) info.set({ pool: worker.pool, worker: worker.url, model }, 1);
        }
      }
    },
  });
  // Declared after the gauge whose collect() fills them, so one scrape shows one snapshot.
  // ringgate_worker_info: the current model per worker, to join scrape-time gauges (KV use, queue) by model. Request series carry
  // `worker_model` themselves: a join would credit a whole rate window to the model a worker has now.
  const info = new Gauge({
    name: "ringgate_worker_info",
    help: "1 per worker with its actual model (root of its /v1/models, as the probes last read it).",
    labelNames: ["pool", "worker", "model"],
    registers,
  });
  const ejections = new Counter({ name: "ringgate_worker_ejections_total", help: "Passive ejections of the worker (live traffic failed on it) since start-up.", labelNames: ["pool", "worker"], registers });
}
