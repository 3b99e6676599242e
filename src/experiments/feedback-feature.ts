import { GatewayError } from "../errors/catalog.ts";
import type { GatewayFeature } from "../gateway.ts";
import type { MetricsSink } from "../metrics/metrics-sink.ts";
import { RecentRequests } from "./recent-requests.ts";

export interface FeedbackOptions {
  /** Finished requests remembered for feedback (~200 bytes each). */
  capacity?: number;
  /** How long after its answer a request can still be rated. */
  maxAgeMs?: number;
  now?: () => number;
}

/** One rating of an answered request, as the route validated it. */
export interface FeedbackRequest {
  request_id: string;
  score: number;
  label?: string;
}

/** Accepts one signal or throws the catalog error that says why not. */
export type AcceptFeedback = (feedback: FeedbackRequest, keyName: string | undefined) => { model: string; pool: string };

const DEFAULT_CAPACITY = 50_000;
const DEFAULT_MAX_AGE_MS = 60 * 60_000;

/**
 * POST /v1/feedback: a game service rates an answered request by id. The signal is joined with what
 * served the request (model, pool, worker, and the worker's actual model as the health probes last saw
 * it) from a bounded index of recent requests and goes to the metrics sink, so it is buffered, bounded
 * and flushed like the records. List it after client auth (the route is under /v1), health and metrics.
 */
export function feedbackFeature(options: FeedbackOptions = {}): GatewayFeature {
  return {
    name: "feedback",
    setup(context) {
      const { sink, health } = context.services;
      if (!sink || !health)
        throw new Error("the feedback feature needs the health and metrics features set up before it");
      const now = options.now ?? Date.now;
      const recent = new RecentRequests({
        capacity: options.capacity ?? DEFAULT_CAPACITY,
        maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
        now,
      });
      context.onFinish((record) => recent.remember(record, record.workerModel ?? health.servedModel(record.worker)));
      // A request answered before the first probe round read the worker's model gets it now.
      const modelOf = (worker: string, atFinish: string | undefined) => atFinish ?? health.servedModel(worker);
      const accept: AcceptFeedback = (feedback, keyName) =>
        acceptFeedback(recent, sink, now, modelOf, feedback, keyName);
      context.expose({ kind: "feedback", accept });
    },
  };
}

function acceptFeedback(
  recent: RecentRequests,
  sink: MetricsSink,
  now: () => number,
  modelOf: (worker: string, atFinish: string | undefined) => string | undefined,
  feedback: FeedbackRequest,
  keyName: string | undefined,
) {
  const id = feedback.request_id;
  const lookup = recent.lookup(id);
  if ("missing" in lookup && lookup.missing === "unknown") throw notFound(id);
  if ("missing" in lookup) {
    const minutes = Math.round(recent.maxAgeMs / 60_000);
    throw new GatewayError(
      "feedback_expired",
      `Request \`${id}\` was answered more than ${minutes} min ago; feedback is taken within ${minutes} min.`,
      { param: "request_id" },
    );
  }
  const served = lookup.found;
  // Another client's request is as unknown to this key as one never seen: ids must not leak across keys.
  if (served.keyName !== keyName) throw notFound(id);
  if (!served.answered)
    throw new GatewayError("request_not_answered", `Request \`${id}\` failed, so there is no answer to rate.`, {
      param: "request_id",
    });
  sink.feedback({
    ts: now(),
    requestId: id,
    score: feedback.score,
    label: feedback.label,
    model: served.model,
    pool: served.pool,
    worker: served.worker,
    workerModel: modelOf(served.worker, served.workerModel),
    keyName,
  });
  return { model: served.model, pool: served.pool };
}

function notFound(id: string): GatewayError {
  return new GatewayError(
    "request_not_found",
    `No answered request \`${id}\` is known here: unknown, or forgotten after too many newer ones.`,
    { param: "request_id" },
  );
}
