import type { GatewayConfig, ModelConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { Pool, Pools } from "../pool/pools.ts";
import type { JsonObject } from "../proxy/request-body.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { hashString } from "./rendezvous-hash.ts";
import { estimatePromptTokens, sessionKeyOf, ttftBudgetOverrideMs } from "./request-hints.ts";
import type { SelectionContext } from "./selection-policy.ts";
import { TtftPredictor } from "./ttft-predictor.ts";

/** What routing decided for one request; copied into its record. */
export interface RouteNote {
  /** How the client's `model` became a pool, e.g. `alias → heavy; tier heavy: predicted 120 ms ≤ 800 ms`. */
  route: string | undefined;
  predictedTtftMs: number | undefined;
  ttftBudgetMs: number | undefined;
  /** Queue position on the answering worker when picked, 0 = a slot was free (the predictor learns from 0s). */
  queueAhead: number | undefined;
}

/** vLLM's 400 for a prompt (or prompt + max_tokens) over `max_model_len`, all versions' wordings. */
const CONTEXT_OVERFLOW = "maximum context length";

/**
 * A request's pools in the order to try them, and the session key the pools' policies use. The chain
 * can grow while the request runs: a context-length 400 inserts the pool's `contextFallback` pools.
 */
export class ResolvedRoute {
  readonly chain: Pool[];
  readonly selection: SelectionContext;
  readonly note: RouteNote;
  readonly #predictor: TtftPredictor;
  readonly #pools: Pools;

  constructor(chain: Pool[], selection: SelectionContext, note: RouteNote, predictor: TtftPredictor, pools: Pools) {
    this.chain = chain;
    this.selection = selection;
    this.note = note;
    this.#predictor = predictor;
    this.#pools = pools;
  }

  /** Called when a worker is picked; the last pick is the one that answered. */
  picked(pool: Pool, slot: number): void {
    this.note.queueAhead = this.#predictor.queueAhead(pool, slot);
  }

  /**
   * Whether a worker's answer is a context-length 400 that `pool`'s `contextFallback` can take; if so
   * those pools (not yet tried) are tried next, and the answer is kept only in case they fail too.
   */
  contextOverflow(pool: Pool, status: number, body: unknown): boolean {
    if (status !== 400 || pool.config.contextFallback.length === 0 || !(body instanceof Uint8Array)) return false;
    if (!new TextDecoder().decode(body).includes(CONTEXT_OVERFLOW)) return false;
    const next = pool.config.contextFallback
      .map((name) => this.#pools.get(name))
      .filter((candidate): candidate is Pool => candidate !== undefined && !this.chain.includes(candidate));
    if (next.length === 0) return false;
    this.chain.splice(this.chain.indexOf(pool) + 1, 0, ...next);
    const step = `context fallback ${pool.name} → ${next.map((p) => p.name).join(", ")}`;
    this.note.route = this.note.route ? `${this.note.route}; ${step}` : step;
    return true;
  }
}

interface Resolution {
  pool: Pool;
  /** Further pools of a tier, tried after `pool` when it cannot serve. */
  spill: Pool[];
  steps: string[];
  predictedTtftMs?: number;
  ttftBudgetMs?: number;
}

interface RequestView {
  model: string;
  headers: Headers;
  body: JsonObject;
}

/** Runtime weights over the file's (experiments' VariantWeights): the split a new request uses. */
export interface VariantSplits {
  variants(
    model: string,
    configured: readonly { pool: string; weight: number }[],
  ): readonly { pool: string; weight: number }[];
}

/** Guards a chain of names; validation rejects cycles, this only keeps a bad runtime state finite. */
const MAX_DEPTH = 16;

/**
 * The layer above pools (CONTRACT "Models: aliases, variants and tiers"): a client's `model` is looked
 * up in `models` first, then among pools. Aliases resolve transitively; variants split by weight
 * (sticky per session key by hashing, weighted-random without); tiers take the first pool whose
 * predicted TTFT fits the budget, else the one with the smallest prediction.
 */
export class ModelRouter {
  readonly predictor = new TtftPredictor();
  readonly #pools: Pools;
  readonly #config: () => GatewayConfig;
  readonly #random: () => number;
  readonly #weights: VariantSplits | undefined;

  constructor(pools: Pools, config: () => GatewayConfig, random: () => number = Math.random, weights?: VariantSplits) {
    this.#pools = pools;
    this.#config = config;
    this.#random = random;
    this.#weights = weights;
  }

  has(model: string): boolean {
    return model in this.#config().models || this.#pools.get(model) !== undefined;
  }

  /** Every pool a model can route to (variants, tiers, fallbacks, context fallbacks), for key scopes and listings. */
  reachablePools(model: string): string[] {
    const found = new Set<string>();
    const visit = (name: string, depth: number): void => {
      const entry = this.#config().models[name];
      if (depth > MAX_DEPTH || found.has(name)) return;
      if (!entry) {
        const pool = this.#pools.get(name);
        if (!pool) return;
        found.add(name);
        for (const next of [...pool.config.fallback, ...pool.config.contextFallback]) visit(next, depth + 1);
        return;
      }
      for (const target of targetsOf(entry)) visit(target, depth + 1);
    };
    visit(model, 0);
    return [...found];
  }

  resolve(request: RequestView): ResolvedRoute {
    const sessionKey = sessionKeyOf(request.headers, request.body);
    const resolution = this.#resolveName(request.model, request, sessionKey, 0);
    if (!resolution)
      throw new GatewayError("model_not_found", `The model \`${request.model}\` does not exist.`, { param: "model" });
    const chain: Pool[] = [];
    const add = (pool: Pool | undefined): void => {
      if (pool && !chain.includes(pool)) chain.push(pool);
    };
    add(resolution.pool);
    for (const pool of resolution.spill) add(pool);
    for (const pool of [...chain]) for (const name of pool.config.fallback) add(this.#pools.get(name));
    const note: RouteNote = {
      route: resolution.steps.length > 0 ? resolution.steps.join("; ") : undefined,
      predictedTtftMs: resolution.predictedTtftMs,
      ttftBudgetMs: resolution.ttftBudgetMs,
      queueAhead: undefined,
    };
    return new ResolvedRoute(chain, sessionKey === undefined ? {} : { sessionKey }, note, this.predictor, this.#pools);
  }

  observe(record: RequestRecord): void {
    this.predictor.observe(record);
  }

  #resolveName(
    name: string,
    request: RequestView,
    sessionKey: string | undefined,
    depth: number,
  ): Resolution | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const entry = this.#config().models[name];
    if (!entry) {
      const pool = this.#pools.get(name);
      return pool && { pool, spill: [], steps: [] };
    }
    if ("route" in entry) return this.#step(`alias → ${entry.route}`, entry.route, request, sessionKey, depth);
    if ("variants" in entry) {
      const variants = this.#weights?.variants(name, entry.variants) ?? entry.variants;
      const target = chooseVariant(variants, name, sessionKey, this.#random);
      return this.#step(`variant ${target}`, target, request, sessionKey, depth);
    }
    return this.#tier(entry.prefer, entry.ttftBudgetMs, request, sessionKey, depth);
  }

  #step(
    step: string,
    target: string,
    request: RequestView,
    sessionKey: string | undefined,
    depth: number,
  ): Resolution | undefined {
    const next = this.#resolveName(target, request, sessionKey, depth + 1);
    return next && { ...next, steps: [step, ...next.steps] };
  }

  #tier(
    prefer: readonly string[],
    configuredMs: number | undefined,
    request: RequestView,
    sessionKey: string | undefined,
    depth: number,
  ) {
    const options = prefer
      .map((name) => this.#resolveName(name, request, sessionKey, depth + 1))
      .filter((option): option is Resolution => option !== undefined);
    if (options.length === 0) return undefined;
    const budgetMs = ttftBudgetOverrideMs(request.headers) ?? configuredMs;
    const promptTokens = estimatePromptTokens(request.body);
    const predictions = options.map((option) => this.predictor.predict(option.pool, promptTokens));
    let chosen =
      budgetMs === undefined ? predictions.findIndex(Number.isFinite) : predictions.findIndex((ms) => ms <= budgetMs);
    const fits = chosen >= 0;
    if (!fits) chosen = predictions.indexOf(Math.min(...predictions));
    const pick = options[chosen] ?? options[0];
    if (!pick) return undefined;
    const predictedMs = predictions[chosen];
    const shown = predictions
      .map((ms, i) => `${options[i]?.pool.name} ${Number.isFinite(ms) ? Math.round(ms) : "∞"} ms`)
      .join(", ");
    const verdict =
      budgetMs === undefined
        ? "first that can serve"
        : fits
          ? `fits ${budgetMs} ms`
          : `none fits ${budgetMs} ms, smallest`;
    const spill = options.filter((option) => option !== pick).flatMap((option) => [option.pool, ...option.spill]);
    return {
      pool: pick.pool,
      spill: [...pick.spill, ...spill],
      steps: [`tier ${pick.pool.name} (${verdict}; predicted ${shown})`, ...pick.steps],
      predictedTtftMs:
        predictedMs !== undefined && Number.isFinite(predictedMs) ? Math.round(predictedMs * 10) / 10 : undefined,
      ttftBudgetMs: budgetMs,
    } satisfies Resolution;
  }
}

/** The names a model entry points at. */
export function targetsOf(entry: ModelConfig): string[] {
  if ("route" in entry) return [entry.route];
  if ("variants" in entry) return entry.variants.map((variant) => variant.pool);
  return entry.prefer;
}

/**
 * Weighted choice. With a session key, a hash of key and model is the point on the weight line, so a
 * session keeps its variant while the weights stay; without one, a random point.
 */
export function chooseVariant(
  variants: readonly { pool: string; weight: number }[],
  model: string,
  sessionKey: string | undefined,
  random: () => number,
): string {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  const unit = sessionKey === undefined ? random() : hashString(`${model}\u0000${sessionKey}`) / 2 ** 32;
  let point = unit * total;
  for (const variant of variants) {
    if (variant.weight <= 0) continue;
    if (point < variant.weight) return variant.pool;
    point -= variant.weight;
  }
  return variants.findLast((variant) => variant.weight > 0)?.pool ?? variants[0]?.pool ?? model;
}
