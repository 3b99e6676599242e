import type { GatewayConfig } from "../config/schema.ts";
import { GatewayError } from "../errors/catalog.ts";
import type { WorkerEventBus } from "../health/worker-events.ts";
import { logger } from "../log.ts";

export interface Variant {
  readonly pool: string;
  readonly weight: number;
}

/** A split set at run time, over the file's weights for one model. */
export interface WeightOverride {
  /** Effective weights of every variant, in the file's order. */
  readonly variants: readonly Variant[];
  /** The file's weights when the override was set: a reload that changes them drops the override. */
  readonly fileWeights: string;
  readonly setBy: string;
  readonly reason: string;
  readonly sinceMs: number;
}

export interface VariantWeightView {
  model: string;
  pool: string;
  weight: number;
  configuredWeight: number;
  setBy?: string;
  reason?: string;
  since?: string;
}

/** A model's split changed; `actor` is who changed it (`guard`, an admin, or `reload`). */
type Listener = (model: string, actor: string) => void;

/**
 * Runtime weights of `variants` models (PUT /admin/models/{model}/weights, and the guard). The router
 * asks `variants()` on every request of a variants model: a Map lookup that returns the configured
 * array itself when nothing was set, so new requests see a change at once and in-flight ones keep the
 * variant they got. A config reload keeps an override unless the file changed that model's weights.
 */
export class VariantWeights {
  readonly #overrides = new Map<string, WeightOverride>();
  readonly #config: () => GatewayConfig;
  readonly #events: WorkerEventBus;
  readonly #now: () => number;
  readonly #listeners: Listener[] = [];

  constructor(config: () => GatewayConfig, events: WorkerEventBus, now: () => number = Date.now) {
    this.#config = config;
    this.#events = events;
    this.#now = now;
  }

  /** The split for a new request of `model`: runtime weights when set, else `configured`. */
  variants(model: string, configured: readonly Variant[]): readonly Variant[] {
    return this.#overrides.get(model)?.variants ?? configured;
  }

  /** Called after every weight change, a reload's included (the guard re-arms unless it made the change). */
  onChange(listener: Listener): void {
    this.#listeners.push(listener);
  }

  /**
   * Sets some or all variants' weights; unnamed variants keep their current weight. Refuses unknown
   * models, non-variant models, pools that are not variants of the model, and a split with no weight.
   */
  set(
    model: string,
    weights: Readonly<Record<string, number>>,
    actor: string,
    reason = "set by an operator",
  ): readonly Variant[] {
    const configured = this.#configured(model);
    for (const [pool, weight] of Object.entries(weights)) {
      if (!configured.some((variant) => variant.pool === pool)) {
        const pools = configured.map((variant) => variant.pool).join(", ");
        throw new GatewayError(
          "invalid_request",
          `\`${pool}\` is not a variant of \`${model}\`; its variants are ${pools}.`,
          { param: "weights" },
        );
      }
      if (!Number.isFinite(weight) || weight < 0) {
        throw new GatewayError("invalid_request", `Weight of \`${pool}\` must be a number ≥ 0.`, { param: "weights" });
      }
    }
    const current = this.variants(model, configured);
    const next = current.map((variant) => ({ pool: variant.pool, weight: weights[variant.pool] ?? variant.weight }));
    if (next.every((variant) => variant.weight === 0)) {
      throw new GatewayError("invalid_request", `At least one variant of \`${model}\` needs a weight above 0.`, {
        param: "weights",
      });
    }
    const override: WeightOverride = {
      variants: Object.freeze(next),
      fileWeights: fingerprint(configured),
      setBy: actor,
      reason,
      sinceMs: this.#now(),
    };
    this.#overrides.set(model, override);
    const split = next.map((variant) => `${variant.pool}=${variant.weight}`).join(", ");
    logger.info(
      { actor, action: "weights", model, weights: Object.fromEntries(next.map((v) => [v.pool, v.weight])), reason },
      "admin action",
    );
    this.#events.emit({
      ts: override.sinceMs,
      pool: model,
      worker: "*",
      state: "weights",
      reason: `${model}: ${split} (${reason})`,
      actor,
    });
    for (const listener of this.#listeners) listener(model, actor);
    return next;
  }

  /** After a reload: drops overrides of models that are gone, are no longer variants, or whose file weights changed. */
  reconcile(config: GatewayConfig): void {
    for (const [model, override] of this.#overrides) {
      const entry = config.models[model];
      const configured = entry && "variants" in entry ? entry.variants : undefined;
      const samePools =
        configured?.length === override.variants.length &&
        configured.every((v, i) => v.pool === override.variants[i]?.pool);
      if (configured && samePools && fingerprint(configured) === override.fileWeights) continue;
      this.#overrides.delete(model);
      logger.info(
        { model, action: "weights", dropped: true },
        "runtime weights dropped: the config file changed this model",
      );
      this.#events.emit({
        ts: this.#now(),
        pool: model,
        worker: "*",
        state: "weights",
        reason: `${model}: runtime weights dropped, the reloaded file changed them`,
        actor: "reload",
      });
      for (const listener of this.#listeners) listener(model, "reload");
    }
  }

  /** Every variant of every variants model with its effective and configured weight, for /admin/pools. */
  view(): VariantWeightView[] {
    const out: VariantWeightView[] = [];
    for (const [model, entry] of Object.entries(this.#config().models)) {
      if (!("variants" in entry)) continue;
      const override = this.#overrides.get(model);
      entry.variants.forEach((variant, index) => {
        const weight = override?.variants[index]?.weight ?? variant.weight;
        const extra = override
          ? { setBy: override.setBy, reason: override.reason, since: new Date(override.sinceMs).toISOString() }
          : {};
        out.push({ model, pool: variant.pool, weight, configuredWeight: variant.weight, ...extra });
      });
    }
    return out;
  }

  #configured(model: string): readonly Variant[] {
    const entry = this.#config().models[model];
    if (!entry) throw new GatewayError("not_found", `No model \`${model}\` in \`models\`.`, { param: "model" });
    if (!("variants" in entry))
      throw new GatewayError("invalid_request", `Model \`${model}\` has no variants to weigh.`, { param: "model" });
    return entry.variants;
  }
}

function fingerprint(variants: readonly Variant[]): string {
  return variants.map((variant) => `${variant.pool}=${variant.weight}`).join(",");
}
