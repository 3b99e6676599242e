import { type FeedbackRequest, registerFeedbackRoutes } from "../../routes/feedback-routes.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { GatewayFeature } from "../gateway.ts";
import type { MetricsSink } from "../metrics/metrics-sink.ts";
import { RecentRequests } from "./recent-requests.ts";
import { WorkerModels } from "./worker-models.ts";

export interface FeedbackOptions {
  /** Finished requests remembered for feedback (~200 bytes each). */
  capacity?: number;
  /** How long after its answer a request can still be rated. */
  maxAgeMs?: number;
  now?: () => number;
}

const DEFAULT_CAPACITY = 50_000;
const DEFAULT_MAX_AGE_MS = 60 * 60_000;

/** Events after which a worker may serve other weights than before (a restart or a new worker). */
const MODEL_MAY_HAVE_CHANGED = new Set(["recovered", "healthy", "added", "woken"]);

/**
 * POST /v1/feedback: a game service rates an answered request by id. The signal is joined with what
 * served the request (model, pool, worker, the worker's actual model) from a bounded index of recent
 * requests and goes to the metrics sink, so it is buffered, bounded and flushed like the records.
 * List it after client auth (the route is under /v1) and after metrics (it writes to the sink).
 */
export function feedbackFeature(options: FeedbackOptions = {}): GatewayFeature {
  return {
    name: "feedback",
    setup(context) {
      const sink = context.services.sink;
      if (!sink) throw new Error("the feedback feature needs the metrics feature set up before it");
      const now = options.now ?? Date.now;
      const recent = new RecentRequests({
        capacity: options.capacity ?? DEFAULT_CAPACITY,
        maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
        now,
      });
      const models = new WorkerModels(context.pools, context.fetch);
      context.services.workerModels = models;
      for (const pool of context.pools.all()) for (const worker of pool.workers()) models.refresh(pool.name, worker.url);
      context.events.on((event) => {
        if (event.state === "removed") models.forget(event.worker);
        else if (MODEL_MAY_HAVE_CHANGED.has(event.state)) models.refresh(event.pool, event.worker);
      });
      context.onFinish((record) => recent.remember(record, record.worker ? models.modelOf(record.pool, record.worker) : undefined));
      const accept = (feedback: FeedbackRequest, keyName: string | undefined) => acceptFeedback(recent, sink, now, feedback, keyName);
      context.routes((app) => registerFeedbackRoutes(app, accept));
    },
  };
}

function acceptFeedback(recent: RecentRequests, sink: MetricsSink, now: () => number, feedback: FeedbackRequest, keyName: string | undefined) {
  const id = feedback.request_id;
  const lookup = recent.lookup(id);
  if ("missing" in lookup && lookup.missing === "unknown") throw notFound(id);
  if ("missing" in lookup) {
    const minutes = Math.round(recent.maxAgeMs / 60_000);
    throw new GatewayError("feedback_expired", `Request \`${id}\` was answered more than ${minutes} min ago; feedback is taken within ${minutes} min.`, { param: "request_id" });
  }
  const served = lookup.found;
  // Another client's request is as unknown to this key as one never seen: ids must not leak across keys.
  if (served.keyName !== keyName) throw notFound(id);
  if (!served.answered) throw new GatewayError("request_not_answered", `Request \`${id}\` failed, so there is no answer to rate.`, { param: "request_id" });
  sink.feedback({
    ts: now(),
    requestId: id,
    score: feedback.score,
    label: feedback.label,
    model: served.model,
    pool: served.pool,
    worker: served.worker,
    workerModel: served.workerModel,
    keyName,
  });
  return { model: served.model, pool: served.pool };
}

function notFound(id: string): GatewayError {
  return new GatewayError("request_not_found", `No answered request \`${id}\` is known here: unknown, or forgotten after too many newer ones.`, { param: "request_id" });
}
