import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, contextLengthError, engineCrash, errorBody, inbandErrorEvent, modelNotFound, type VllmError } from "./error-wire.ts";
import type { FaultSpec } from "./fault-spec.ts";
import type { GenerationPlan } from "./generation-plan.ts";
import { BodyWriter, GenerationSession, sendJson, StreamWriter, type BodyRenderer, type StreamRenderer, type TokenFault } from "./generation-session.ts";
import type { EmulatorOptions } from "./options.ts";
import { blockHashes, renderPrompt } from "./prefix-cache.ts";
import type { SamplingRequest } from "./request-schema.ts";
import type { Scheduler } from "./scheduler.ts";

/** The validation → scheduling → response path shared by chat and text completions. */

export interface RequestContext {
  readonly options: EmulatorOptions;
  readonly scheduler: Scheduler;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The fault for this request (header, control endpoint or flag), already resolved. */
  readonly fault: FaultSpec | undefined;
  /** This request is the `--die-after` one. */
  readonly dieHere: boolean;
  /** Engine death (see EmulatorApp.die). */
  readonly die: () => void;
}

export interface GenerationJob {
  readonly request: SamplingRequest;
  readonly promptTokens: number;
  readonly plan: (maxTokens: number) => GenerationPlan;
  readonly streamRenderer: (continuousUsage: boolean) => StreamRenderer;
  readonly bodyRenderer: (plan: GenerationPlan) => BodyRenderer;
  /** Responses API streams end after their last event, without `data: [DONE]`. */
  readonly omitDone?: boolean;
}

const SSE_HEADERS = { server: "uvicorn", "content-type": "text/event-stream; charset=utf-8" } as const;

export function sendError(ctx: RequestContext, error: VllmError): void {
  sendJson(ctx.res, error.code, errorBody(ctx.options.wireProfile, error));
}

/** Response id suffix: X-Request-Id header, else body `request_id`, else a random hex uuid. */
export function requestIdFor(ctx: RequestContext, bodyRequestId: string | null | undefined): string {
  return clientRequestId(ctx, bodyRequestId) ?? crypto.randomUUID().replaceAll("-", "");
}

function clientRequestId(ctx: RequestContext, bodyRequestId: string | null | undefined): string | undefined {
  const header = ctx.req.headers["x-request-id"];
  if (typeof header === "string" && header !== "") return header;
  return bodyRequestId ?? undefined;
}

/** The engine's id per route (a completions prompt gets `-<index>`); only client-chosen ids can clash. */
const ENGINE_REQUEST_IDS: Readonly<Record<string, (id: string) => string>> = {
  "/v1/chat/completions": (id) => `chatcmpl-${id}`,
  "/v1/completions": (id) => `cmpl-${id}-0`,
};

function engineRequestId(ctx: RequestContext, request: SamplingRequest): string | undefined {
  const id = clientRequestId(ctx, request.request_id);
  const format = ENGINE_REQUEST_IDS[(ctx.req.url ?? "").split("?")[0] ?? ""];
  return id === undefined || format === undefined ? undefined : format(id);
}

/** vLLM's output processor refuses an id that is still running: JSON 400, or 200 + in-band 400 + [DONE]. */
function refuseDuplicate(ctx: RequestContext, requestId: string, stream: boolean): void {
  const error = badRequest(`Request id ${requestId} already running.`);
  if (!stream) return sendError(ctx, error);
  ctx.res.writeHead(200, SSE_HEADERS);
  ctx.res.end(`${inbandErrorEvent(ctx.options.wireProfile, error)}data: [DONE]\n\n`);
}

export function runGeneration(ctx: RequestContext, job: GenerationJob): void {
  const { options } = ctx;
  const { request } = job;
  if (request.model && request.model !== options.servedModelName) return sendError(ctx, modelNotFound(request.model));
  // vLLM's get_max_tokens uses `or`: 0 means unset (default budget); negatives still fail below.
  const requested = request.max_completion_tokens || request.max_tokens || undefined;
  if (typeof requested === "number" && requested < 1) return sendError(ctx, badRequest(`max_tokens must be at least 1, got ${requested}.`));
  const maxTokens = typeof requested === "number" ? requested : undefined;
  const tooLong = contextLengthError(options.wireProfile, options.maxModelLen, job.promptTokens, maxTokens);
  if (tooLong) return sendError(ctx, tooLong);
  const stream = request.stream === true;
  const requestId = engineRequestId(ctx, request);
  if (requestId !== undefined && ctx.scheduler.isActive(requestId)) return refuseDuplicate(ctx, requestId, stream);
  const plan = job.plan(maxTokens ?? options.maxModelLen - job.promptTokens);
  const sessionOptions = {
    plan,
    promptTokens: job.promptTokens,
    tokenFault: tokenFaultOf(ctx.fault),
    extraFirstTokenDelayMs: ctx.fault?.mode === "slow-first-token" ? ctx.fault.delayMs : 0,
    dieAtToken: ctx.dieHere ? (stream ? 1 : 0) : undefined,
    die: ctx.die,
    engineError: engineCrash(options.wireProfile),
    priority: request.priority ?? 0,
    requestId,
    promptBlockHashes: options.enablePrefixCaching ? blockHashes(renderPrompt(request)) : undefined,
  };
  const writer = stream
    ? new StreamWriter(ctx.res, job.streamRenderer(continuousUsage(request)), options.wireProfile, includeUsage(request), ctx.fault?.mode === "no-done" || job.omitDone === true)
    : new BodyWriter(ctx.res, job.bodyRenderer(plan), options.wireProfile);
  const session = new GenerationSession(ctx.res, sessionOptions, writer);
  if (stream) {
    ctx.res.writeHead(200, SSE_HEADERS);
    ctx.res.flushHeaders();
  }
  const abort = ctx.scheduler.submit(session);
  ctx.res.on("close", abort);
}

/** `stream_options.include_usage` defaults to true once the object is present. */
function includeUsage(request: SamplingRequest): boolean {
  const options = request.stream_options;
  return options !== null && options !== undefined && options.include_usage !== false;
}

function continuousUsage(request: SamplingRequest): boolean {
  return includeUsage(request) && request.stream_options?.continuous_usage_stats === true;
}

function tokenFaultOf(fault: FaultSpec | undefined): TokenFault | undefined {
  if (!fault) return undefined;
  switch (fault.mode) {
    case "cut-after":
    case "stall-after":
    case "malformed-after":
    case "malformed-from":
    case "inband-error-after":
      return fault;
    default:
      return undefined;
  }
}
