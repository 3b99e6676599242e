import { parseFaultSpec, type FaultSpec } from "./fault-spec.ts";

/**
 * The fault armed for upcoming generation requests (from `--fault` or `POST /_emulator/fault`),
 * optionally limited to the next N requests. A per-request `x-emulator-fault` header wins and
 * does not consume the count.
 */
export class FaultController {
  #spec: FaultSpec | undefined;
  #remaining: number | undefined;

  constructor(spec: FaultSpec | undefined, count: number | undefined) {
    this.set(spec, count);
  }

  set(spec: FaultSpec | undefined, count: number | undefined): void {
    this.#spec = spec;
    this.#remaining = count;
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
    if (spec === undefined || this.#remaining === undefined) return spec;
    if (this.#remaining <= 0) {
      this.clear();
      return undefined;
    }
    this.#remaining--;
    if (this.#remaining === 0) this.clear();
    return spec;
  }

  describe(): { spec: FaultSpec; remaining: number | null } | null {
    return this.#spec ? { spec: this.#spec, remaining: this.#remaining ?? null } : null;
  }
}
