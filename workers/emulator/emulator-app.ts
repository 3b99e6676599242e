import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { handleChatCompletion } from "./chat-handler.ts";
import { handleCompletion } from "./completion-handler.ts";
import { handleResponses } from "./responses-handler.ts";
import { handleDetokenize, handleTokenize, type JsonReply } from "./tokenize-handler.ts";
import { EngineDeath } from "./engine-death.ts";
import { EngineMetrics, type FinishedReason } from "./engine-metrics.ts";
import { errorBody, validationError, type VllmError } from "./error-wire.ts";
import { FaultController } from "./fault-controller.ts";
import { parseFaultSpec, type FaultSpec } from "./fault-spec.ts";
import { sendEngineDead, sendJson } from "./generation-session.ts";
import { sendError, type RequestContext } from "./generation-runner.ts";
import { metricsText, modelsBody } from "./info-endpoints.ts";
import type { EmulatorOptions, WireProfile } from "./options.ts";
import { PrefixCache } from "./prefix-cache.ts";
import { Scheduler, type TimingModel } from "./scheduler.ts";
import { SleepMode } from "./sleep-mode.ts";

/** Routing and per-process state of one emulated vLLM replica (the HTTP server lives in server.ts). */

export interface EmulatorState {
  readonly running: number;
  readonly waiting: number;
  /** Generation requests received (chat + completions). */
  readonly totalRequests: number;
  /** Requests whose client left before the end (not a metrics `abort`, as in v0.11.0). */
  readonly aborted: number;
  readonly finished: Readonly<Record<FinishedReason, number>>;
  readonly fault: ReturnType<FaultController["describe"]>;
  readonly sleeping: boolean;
  /** Generation requests cut because `/sleep` arrived while they ran. */
  readonly cutBySleep: number;
  /** The engine died (`--die-after`, `POST /_emulator/die`); the process exits soon unless `--stay-after-death`. */
  readonly dead: boolean;
}

type GenerationHandler = (ctx: RequestContext, body: unknown) => void;

const GENERATION_ROUTES: Readonly<Record<string, GenerationHandler>> = {
  "/v1/chat/completions": handleChatCompletion,
  "/v1/completions": handleCompletion,
  "/v1/responses": handleResponses,
};

/** Tokenizer routes: no engine, no faults; not under /v1, so `--api-key` does not guard them (as in vLLM). */
const TOKENIZER_ROUTES: Readonly<Record<string, (options: EmulatorOptions, body: string) => JsonReply>> = {
  "/tokenize": handleTokenize,
  "/detokenize": handleDetokenize,
};

/** Body of `POST /_emulator/fault`: `{"mode":"status","arg":503,"count":2,"rate":0.5}` or `{"mode":"status:503,retry-after:2"}`. */
const faultRequestSchema = z.object({
  mode: z.string(),
  arg: z.union([z.string(), z.number()]).optional(),
  count: z.number().int().nonnegative().optional(),
  rate: z.number().min(0).max(1).optional(),
});

const INJECTED_EXCEPTION_MESSAGE = "emulator: injected exception in the route handler";

const JSON_DECODE_ERROR = "[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', 'input': {}}]";

function timingModelFor(options: EmulatorOptions): TimingModel {
  const { speed } = options;
  if (options.ttftMs !== undefined || options.itlMs !== undefined) {
    const ttftMs = (options.ttftMs ?? 0) / speed;
    const itlMs = (options.itlMs ?? 0) / speed;
    return { firstTokenDelayMs: () => ttftMs, stepMs: () => itlMs };
  }
  return {
    firstTokenDelayMs: (promptTokens) => (options.overheadMs + (promptTokens / options.prefillTokensPerS) * 1000) / speed,
    stepMs: (batchSize) => (options.stepBaseMs + options.stepPerSeqMs * batchSize) / speed,
  };
}

export class EmulatorApp {
  readonly #options: EmulatorOptions;
  readonly #metrics: EngineMetrics;
  readonly #scheduler: Scheduler;
  readonly #faults: FaultController;
  readonly #death: EngineDeath;
  readonly #sleep: SleepMode;
  #totalRequests = 0;
  /** Generation requests whose response is not finished (vLLM's server_load_metrics). */
  #serverLoad = 0;

  /** `onExit`: what the process does once a dead engine's watchdog fires. */
  constructor(options: EmulatorOptions, onExit: () => void) {
    this.#options = options;
    this.#metrics = new EngineMetrics(options.servedModelName);
    // Fixed timing is for benchmarks: no KV limit, so only --max-num-seqs caps the batch.
    const fixedTiming = options.ttftMs !== undefined || options.itlMs !== undefined;
    const kvCacheTokens = fixedTiming ? Infinity : options.kvCacheTokens;
    const limits = { maxNumSeqs: options.maxNumSeqs, kvCacheTokens, schedulingPolicy: options.schedulingPolicy };
    const prefixCache = options.enablePrefixCaching ? new PrefixCache(options.kvCacheTokens) : undefined;
    this.#scheduler = new Scheduler(timingModelFor(options), limits, this.#metrics, prefixCache);
    this.#faults = new FaultController(options.fault, options.faultCount, options.faultRate, options.seed);
    this.#death = new EngineDeath(this.#scheduler, options.stayAfterDeath ? undefined : options.deathExitMs, onExit);
    this.#sleep = new SleepMode(options);
  }

  state(): EmulatorState {
    const finished = this.#metrics.finished;
    return {
      running: this.#scheduler.running,
      waiting: this.#scheduler.waiting,
      totalRequests: this.#totalRequests,
      aborted: this.#scheduler.clientAborts,
      finished: { ...finished },
      fault: this.#faults.describe(),
      sleeping: this.#sleep.sleeping,
      cutBySleep: this.#sleep.cutBySleep,
      dead: this.#death.dead,
    };
  }

  setFault(spec: FaultSpec | string | undefined, count?: number, rate?: number): void {
    this.#faults.set(typeof spec === "string" ? parseFaultSpec(spec) : spec, count, rate);
  }

  /** Kills the engine now (what `--die-after` does when its request's first token is due). */
  die(): void {
    this.#death.die();
  }

  stop(): void {
    this.#scheduler.stop();
    this.#death.stop();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const generation = GENERATION_ROUTES[path];
    if (path.startsWith("/v1/") && !this.#authorized(req)) {
      return sendJson(res, 401, JSON.stringify({ error: "Unauthorized" }));
    }
    if (generation) {
      if (req.method !== "POST") return notAllowed(res);
      this.#serverLoad++;
      res.once("close", () => this.#serverLoad--);
      return void readBody(req)
        .then((text) => this.#generate(req, res, generation, text))
        .catch((error: unknown) => sendJson(res, 500, errorBody(this.#options.wireProfile, unexpected(error))));
    }
    const tokenizer = TOKENIZER_ROUTES[path];
    if (tokenizer) {
      if (req.method !== "POST") return notAllowed(res);
      return void readBody(req).then((text) => {
        const reply = tokenizer(this.#options, text);
        sendJson(res, reply.status, reply.body);
      });
    }
    if (this.#sleep.handle(req, res, path)) return;
    if (path.startsWith("/_emulator/")) return this.#control(req, res, path);
    this.#info(req, res, path);
  }

  #authorized(req: IncomingMessage): boolean {
    const key = this.#options.apiKey;
    return key === undefined || req.headers.authorization === `Bearer ${key}`;
  }

  #generate(req: IncomingMessage, res: ServerResponse, handler: GenerationHandler, text: string): void {
    this.#totalRequests++;
    if (this.#death.dead) return sendEngineDead(res, this.#options.wireProfile);
    let fault: FaultSpec | undefined;
    try {
      fault = this.#faults.take(headerValue(req, "x-emulator-fault"));
    } catch (error) {
      return sendJson(res, 400, JSON.stringify({ error: { message: String(error), type: "BadRequestError", param: null, code: 400 } }));
    }
    if (fault && this.#applyRequestFault(res, fault)) return;
    if (this.#sleep.intercept(res)) return;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return sendError(this.#context(req, res, fault), validationError(JSON_DECODE_ERROR));
    }
    handler(this.#context(req, res, fault), body);
  }

  #context(req: IncomingMessage, res: ServerResponse, fault: FaultSpec | undefined): RequestContext {
    return {
      options: this.#options,
      scheduler: this.#scheduler,
      req,
      res,
      fault,
      dieHere: this.#options.dieAfter !== undefined && this.#totalRequests === this.#options.dieAfter,
      die: () => this.#death.die(),
    };
  }

  /** Faults that act before the engine sees the request; true when the request is dealt with. */
  #applyRequestFault(res: ServerResponse, fault: FaultSpec): boolean {
    switch (fault.mode) {
      case "reset":
        res.socket?.destroy();
        return true;
      case "hang-headers":
        return true;
      case "exception":
        sendJson(res, 500, errorBody(this.#options.wireProfile, unexpected(new Error(INJECTED_EXCEPTION_MESSAGE))));
        return true;
      case "status":
        sendStatusFault(res, this.#options.wireProfile, fault.status, fault.retryAfterS);
        return true;
      case "engine-dead":
        sendEngineDead(res, this.#options.wireProfile);
        return true;
      default:
        return false;
    }
  }

  #control(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (path === "/_emulator/state" && req.method === "GET") return sendJson(res, 200, JSON.stringify(this.state()));
    if (path === "/_emulator/die" && req.method === "POST") {
      this.#death.die();
      return sendJson(res, 200, JSON.stringify({ dead: true }));
    }
    if (path !== "/_emulator/fault") return notFound(res);
    if (req.method === "DELETE") {
      this.#faults.clear();
      return sendJson(res, 200, JSON.stringify({ fault: null }));
    }
    if (req.method !== "POST") return notAllowed(res);
    void readBody(req).then((text) => {
      try {
        const { mode, arg, count, rate } = faultRequestSchema.parse(JSON.parse(text));
        this.#faults.set(parseFaultSpec(arg === undefined ? mode : `${mode}:${arg}`), count, rate);
        sendJson(res, 200, JSON.stringify({ fault: this.#faults.describe() }));
      } catch (error) {
        sendJson(res, 400, JSON.stringify({ error: { message: String(error), type: "BadRequestError", param: null, code: 400 } }));
      }
    });
  }

  #info(req: IncomingMessage, res: ServerResponse, path: string): void {
    const options = this.#options;
    const isGet = req.method === "GET";
    if (path === "/health" || path === "/ping") {
      // A dead engine answers /health with an empty 503 until the process exits.
      const dead = this.#death.dead || this.#faults.peek()?.mode === "engine-dead";
      res.writeHead(dead ? 503 : 200, { server: "uvicorn", "content-length": "0" });
      return void res.end();
    }
    if (path === "/version" && isGet) return sendJson(res, 200, JSON.stringify({ version: options.version }));
    if (path === "/load" && isGet) {
      // vLLM only counts with --enable-server-load-tracking; otherwise /load stays 0.
      const load = options.enableServerLoadTracking ? this.#serverLoad : 0;
      return sendJson(res, 200, JSON.stringify({ server_load: load }));
    }
    if (path === "/v1/models" && isGet) return sendJson(res, 200, modelsBody(options));
    if (path === "/metrics" && isGet) {
      const body = metricsText(options, this.#metrics, this.#scheduler);
      res.writeHead(200, { server: "uvicorn", "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": String(Buffer.byteLength(body)) });
      return void res.end(body);
    }
    if (["/version", "/load", "/v1/models", "/metrics"].includes(path)) return notAllowed(res);
    notFound(res);
  }
}

/** What FastAPI's exception handler sends for a bug in a route: 500, reason phrase as type. */
function unexpected(error: unknown): VllmError {
  return { message: error instanceof Error ? error.message : String(error), type: "Internal Server Error", code: 500 };
}

/** 500 is the dead engine's answer; other codes get an OpenAI-style JSON error. */
function sendStatusFault(res: ServerResponse, profile: WireProfile, status: number, retryAfterS: number | undefined): void {
  const headers: Record<string, string> = retryAfterS === undefined ? {} : { "retry-after": String(retryAfterS) };
  if (status === 500) return sendEngineDead(res, profile, headers);
  const type = status === 429 ? "RateLimitError" : status === 503 ? "ServiceUnavailableError" : "EmulatedError";
  const message = status === 429 ? "Too many requests (emulated)" : `Emulated HTTP ${status}`;
  sendJson(res, status, JSON.stringify({ error: { message, type, param: null, code: status } }), headers);
}

function notFound(res: ServerResponse): void {
  sendJson(res, 404, JSON.stringify({ detail: "Not Found" }));
}

function notAllowed(res: ServerResponse): void {
  sendJson(res, 405, JSON.stringify({ detail: "Method Not Allowed" }));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(""));
  });
}
