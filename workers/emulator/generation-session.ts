import type { ServerResponse } from "node:http";
import { engineCrash, engineDeadError, errorBody, inbandErrorEvent, type VllmError } from "./error-wire.ts";
import type { TokenFaultMode } from "./fault-spec.ts";
import type { FinishReason, GenerationPlan, PlannedToken } from "./generation-plan.ts";
import type { WireProfile } from "./options.ts";
import type { EngineRequest } from "./scheduler.ts";

/**
 * Bridges the scheduler's token clock to one HTTP response, for streaming and non-streaming
 * chat/completions alike, and applies the per-token fault modes.
 */

/** Endpoint-specific wire text (chat.completion vs text_completion). */
export interface StreamRenderer {
  /** Text sent just before the first token's own chunk (chat: the role chunk). */
  preamble(): string;
  /** Chunk(s) for a planned token; `finish` set when it is the last token (finish_reason length). */
  token(token: PlannedToken, completionTokens: number, finish: FinishReason | undefined): string;
  /** Final chunk after EOS. */
  finish(reason: FinishReason, completionTokens: number): string;
  usageOnly(completionTokens: number): string;
}

export interface BodyRenderer {
  body(producedTokens: number, finishReason: FinishReason, completionTokens: number): string;
}

export interface TokenFault {
  readonly mode: TokenFaultMode;
  readonly tokens: number;
}

export interface SessionOptions {
  readonly plan: GenerationPlan;
  readonly promptTokens: number;
  readonly tokenFault: TokenFault | undefined;
  readonly extraFirstTokenDelayMs: number;
  /** Called instead of emitting this token index (die-after); undefined = never. */
  readonly dieAtToken: number | undefined;
  /** Kills the engine: every in-flight request, this one included, gets `fail()`. */
  readonly die: () => void;
  readonly engineError: VllmError;
  readonly priority: number;
  readonly requestId: string | undefined;
  readonly promptBlockHashes: readonly bigint[] | undefined;
}

const DONE = "data: [DONE]\n\n";
const MALFORMED_EVENT = 'data: {"id":"chatcmpl-malformed","choices":[{"delta":{"content":\n\n';

/** How one response shape (SSE or a JSON body) reacts to the session's token events. */
export interface SessionWriter {
  deliver(index: number, isLast: boolean, plan: GenerationPlan): void;
  failMidway(error: VllmError): void;
  /** The engine died under this request. */
  engineDied(): void;
  malformed(): void;
}

export class GenerationSession implements EngineRequest {
  readonly promptTokens: number;
  readonly totalTokens: number;
  readonly extraFirstTokenDelayMs: number;
  readonly finishReason: "stop" | "length";
  readonly priority: number;
  readonly requestId: string | undefined;
  readonly promptBlockHashes: readonly bigint[] | undefined;
  readonly #res: ServerResponse;
  readonly #options: SessionOptions;
  readonly #writer: SessionWriter;

  constructor(res: ServerResponse, options: SessionOptions, writer: SessionWriter) {
    this.#res = res;
    this.#options = options;
    this.#writer = writer;
    this.promptTokens = options.promptTokens;
    this.totalTokens = options.plan.tokens.length + (options.plan.endsWithEos ? 1 : 0);
    this.extraFirstTokenDelayMs = options.extraFirstTokenDelayMs;
    this.finishReason = options.plan.endsWithEos ? "stop" : "length";
    this.priority = options.priority;
    this.requestId = options.requestId;
    this.promptBlockHashes = options.promptBlockHashes;
  }

  emit(index: number): boolean {
    if (this.#res.destroyed) return false;
    if (index === this.#options.dieAtToken) {
      this.#options.die();
      return false;
    }
    const fault = this.#options.tokenFault;
    if (fault?.mode === "malformed-from" && index >= fault.tokens) {
      // A broken worker: garbage instead of every token from here on, then silence with the slot held.
      this.#writer.malformed();
      return index < this.totalTokens - 1;
    }
    if (fault && index === fault.tokens) {
      if (fault.mode === "cut-after") {
        cutConnection(this.#res);
        return false;
      }
      if (fault.mode === "stall-after") return false;
      if (fault.mode === "inband-error-after") {
        this.#writer.failMidway(this.#options.engineError);
        return false;
      }
      this.#writer.malformed();
    }
    this.#writer.deliver(index, index === this.totalTokens - 1, this.#options.plan);
    return true;
  }

  fail(): void {
    if (!this.#res.destroyed) this.#writer.engineDied();
  }
}

export class StreamWriter implements SessionWriter {
  readonly #res: ServerResponse;
  readonly #renderer: StreamRenderer;
  readonly #profile: WireProfile;
  readonly #includeUsage: boolean;
  readonly #omitDone: boolean;

  constructor(res: ServerResponse, renderer: StreamRenderer, profile: WireProfile, includeUsage: boolean, omitDone: boolean) {
    this.#res = res;
    this.#renderer = renderer;
    this.#profile = profile;
    this.#includeUsage = includeUsage;
    this.#omitDone = omitDone;
  }

  deliver(index: number, isLast: boolean, plan: GenerationPlan): void {
    const completionTokens = index + 1;
    let out = index === 0 ? this.#renderer.preamble() : "";
    const token = plan.tokens[index];
    if (token) out += this.#renderer.token(token, completionTokens, isLast ? plan.finishReason : undefined);
    else out += this.#renderer.finish(plan.finishReason, completionTokens);
    if (!isLast) {
      this.#res.write(out);
      return;
    }
    if (this.#includeUsage) out += this.#renderer.usageOnly(completionTokens);
    if (!this.#omitDone) out += DONE;
    this.#res.end(out);
  }

  failMidway(error: VllmError): void {
    this.#res.end(inbandErrorEvent(this.#profile, error) + DONE);
  }

  engineDied(): void {
    this.failMidway(engineCrash(this.#profile));
  }

  malformed(): void {
    this.#res.write(MALFORMED_EVENT);
  }
}

export class BodyWriter implements SessionWriter {
  readonly #res: ServerResponse;
  readonly #renderer: BodyRenderer;
  readonly #profile: WireProfile;
  #malformed = false;

  constructor(res: ServerResponse, renderer: BodyRenderer, profile: WireProfile) {
    this.#res = res;
    this.#renderer = renderer;
    this.#profile = profile;
  }

  deliver(index: number, isLast: boolean, plan: GenerationPlan): void {
    if (!isLast) return;
    const body = this.#renderer.body(plan.tokens.length, plan.finishReason, index + 1);
    sendJson(this.#res, 200, this.#malformed ? body.slice(0, Math.floor(body.length / 2)) : body);
  }

  failMidway(error: VllmError): void {
    sendJson(this.#res, error.code, errorBody(this.#profile, error));
  }

  engineDied(): void {
    sendEngineDead(this.#res, this.#profile);
  }

  malformed(): void {
    this.#malformed = true;
  }
}

export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    server: "uvicorn",
    "content-length": String(Buffer.byteLength(body)),
    "content-type": "application/json",
    ...extraHeaders,
  });
  res.end(body);
}

/** A dead engine's answer: the JSON 500 of v0.10.2+, or the empty-body 500 of `legacy`. */
export function sendEngineDead(res: ServerResponse, profile: WireProfile, extraHeaders: Record<string, string> = {}): void {
  const error = engineDeadError(profile);
  if (error) return sendJson(res, 500, errorBody(profile, error), extraHeaders);
  if (res.destroyed || res.headersSent) return;
  res.writeHead(500, { server: "uvicorn", "content-length": "0", ...extraHeaders });
  res.end();
}

/** Close after what was written so far: a FIN mid-body (no final chunk), unlike a reset that may drop buffered bytes. */
function cutConnection(res: ServerResponse): void {
  if (res.socket) res.socket.end();
  else res.destroy();
}
