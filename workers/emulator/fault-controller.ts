import { parseFaultSpec, type FaultSpec } from "./fault-spec.ts";
import { SeededRandom } from "./text-generator.ts";

/**
 * The fault armed for upcoming generation requests (from `--fault` or `POST /_emulator/fault`),
 * optionally limited to the next N requests and/or to a fraction `rate` of them. The rate draws
 * from one PRNG seeded with `--seed`, so a run with the same requests in the same order hits the
 * same ones. A per-request `x-emulator-fault` header wins and consumes neither count nor draw.
 */
export class FaultController {
  #spec: FaultSpec | undefined;
  #remaining: number | undefined;
  #rate = 1;
  readonly #random: SeededRandom;

  constructor(spec: FaultSpec | undefined, count: number | undefined, rate: number, seed: number) {
    this.#random = new SeededRandom(seed);
    this.set(spec, count, rate);
  }

  /** `rate` in [0, 1]: the chance each request gets the fault (1 = every one). */
  set(spec: FaultSpec | undefined, count: number | undefined, rate = 1): void {
    this.#spec = spec;
    this.#remaining = count;
    this.#rate = rate;
  }

  clear(): void {
    this.set(undefined, undefined);
  }

  /** The armed fault, without consuming it (process-wide states like engine-dead). */
  peek(): FaultSpec | undefined {
    return this.#spec;
  }

  /** @throws Error when the header holds an invalid fault spec. */
  take(headerValue: string | undefined): FaultSpec | undefined {
    if (headerValue !== undefined && headerValue !== "") return parseFaultSpec(headerValue);
    const spec = this.#spec;
    if (spec === undefined) return undefined;
    if (this.#rate < 1 && this.#random.next() >= this.#rate) return undefined;
    if (this.#remaining === undefined) return spec;
    if (this.#remaining <= 0) {
      this.clear();
      return undefined;
    }
    this.#remaining--;
    if (this.#remaining === 0) this.clear();
    return spec;
  }

  describe(): { spec: FaultSpec; remaining: number | null; rate: number } | null {
    return this.#spec ? { spec: this.#spec, remaining: this.#remaining ?? null, rate: this.#rate } : null;
  }
}
