import type { ServerResponse } from "node:http";
import { errorBody, inbandErrorEvent, type VllmError } from "./error-wire.ts";
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
  readonly profile: WireProfile;
  readonly tokenFault: TokenFault | undefined;
  readonly extraFirstTokenDelayMs: number;
  /** Called instead of emitting this token index (die-after); undefined = never. */
  readonly dieAtToken: number | undefined;
  readonly onDie: () => void;
  readonly engineError: VllmError;
}

const DONE = "data: [DONE]\n\n";
const MALFORMED_EVENT = 'data: {"id":"chatcmpl-malformed","choices":[{"delta":{"content":\n\n';

abstract class BaseSession implements EngineRequest {
  readonly promptTokens: number;
  readonly totalTokens: number;
  readonly extraFirstTokenDelayMs: number;
  readonly finishReason: "stop" | "length";
  protected readonly res: ServerResponse;
  protected readonly options: SessionOptions;

  constructor(res: ServerResponse, options: SessionOptions) {
    this.res = res;
    this.options = options;
    this.promptTokens = options.promptTokens;
    this.totalTokens = options.plan.tokens.length + (options.plan.endsWithEos ? 1 : 0);
    this.extraFirstTokenDelayMs = options.extraFirstTokenDelayMs;
    this.finishReason = options.plan.endsWithEos ? "stop" : "length";
  }

  emit(index: number): boolean {
    if (this.res.destroyed) return false;
    if (index === this.options.dieAtToken) {
      this.options.onDie();
      return false;
    }
    const fault = this.options.tokenFault;
    if (fault && index === fault.tokens) {
      if (fault.mode === "cut-after") {
        cutConnection(this.res);
        return false;
      }
      if (fault.mode === "stall-after") return false;
      if (fault.mode === "inband-error-after") {
        this.failMidway(this.options.engineError);
        return false;
      }
      this.malformed();
    }
    this.deliver(index, index === this.totalTokens - 1);
    return true;
  }

  protected abstract deliver(index: number, isLast: boolean): void;
  protected abstract failMidway(error: VllmError): void;
  protected abstract malformed(): void;
}

export class StreamSession extends BaseSession {
  readonly #renderer: StreamRenderer;
  readonly #includeUsage: boolean;
  readonly #omitDone: boolean;

  constructor(res: ServerResponse, options: SessionOptions, renderer: StreamRenderer, includeUsage: boolean, omitDone: boolean) {
    super(res, options);
    this.#renderer = renderer;
    this.#includeUsage = includeUsage;
    this.#omitDone = omitDone;
  }

  protected deliver(index: number, isLast: boolean): void {
    const { plan } = this.options;
    const completionTokens = index + 1;
    let out = index === 0 ? this.#renderer.preamble() : "";
    const token = plan.tokens[index];
    if (token) out += this.#renderer.token(token, completionTokens, isLast ? plan.finishReason : undefined);
    else out += this.#renderer.finish(plan.finishReason, completionTokens);
    if (!isLast) {
      this.res.write(out);
      return;
    }
    if (this.#includeUsage) out += this.#renderer.usageOnly(completionTokens);
    if (!this.#omitDone) out += DONE;
    this.res.end(out);
  }

  protected failMidway(error: VllmError): void {
    this.res.end(inbandErrorEvent(this.options.profile, error) + DONE);
  }

  protected malformed(): void {
    this.res.write(MALFORMED_EVENT);
  }
}

export class BodySession extends BaseSession {
  readonly #renderer: BodyRenderer;
  #malformed = false;

  constructor(res: ServerResponse, options: SessionOptions, renderer: BodyRenderer) {
    super(res, options);
    this.#renderer = renderer;
  }

  protected deliver(index: number, isLast: boolean): void {
    if (!isLast) return;
    const body = this.#renderer.body(this.options.plan.tokens.length, this.options.plan.finishReason, index + 1);
    sendJson(this.res, 200, this.#malformed ? body.slice(0, Math.floor(body.length / 2)) : body);
  }

  protected failMidway(error: VllmError): void {
    sendJson(this.res, error.code, errorBody(this.options.profile, error));
  }

  protected malformed(): void {
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

/** Close after what was written so far: a FIN mid-body (no final chunk), unlike a reset that may drop buffered bytes. */
function cutConnection(res: ServerResponse): void {
  if (res.socket) res.socket.end();
  else res.destroy();
}
