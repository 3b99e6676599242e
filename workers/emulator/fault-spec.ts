/**
 * Fault modes and their text syntax, shared by `--fault`, the `x-emulator-fault` header and
 * `POST /_emulator/fault`: `MODE[:ARG][,retry-after:SECONDS]`, e.g. `status:503,retry-after:2`.
 */

export type BareFaultMode = "reset" | "hang-headers" | "no-done" | "exception" | "engine-dead";
export type TokenFaultMode = "cut-after" | "stall-after" | "malformed-after" | "malformed-from" | "inband-error-after";

export type FaultSpec =
  | { readonly mode: "status"; readonly status: number; readonly retryAfterS: number | undefined }
  | { readonly mode: BareFaultMode }
  | { readonly mode: "slow-first-token"; readonly delayMs: number }
  | { readonly mode: TokenFaultMode; readonly tokens: number };

const TOKEN_MODES: ReadonlySet<string> = new Set([
  "cut-after",
  "stall-after",
  "malformed-after",
  "malformed-from",
  "inband-error-after",
]);
const BARE_MODES: ReadonlySet<string> = new Set(["reset", "hang-headers", "no-done", "exception", "engine-dead"]);

export const FAULT_SYNTAX =
  "status:CODE[,retry-after:S] | retry-after:S | reset | hang-headers | exception | engine-dead | no-done | " +
  "slow-first-token:MS | cut-after:N | stall-after:N | malformed-after:N | malformed-from:N | inband-error-after:N";

export function parseFaultSpec(text: string): FaultSpec {
  const [head = "", ...options] = text.trim().split(",");
  const retryAfterS = parseRetryAfter(options, text);
  const [mode = "", arg] = splitModeArg(head);
  if (mode === "retry-after") return { mode: "status", status: 503, retryAfterS: nonNegative(arg, text) };
  if (mode === "status") {
    const status = nonNegative(arg, text);
    if (status < 400 || status > 599) throw new Error(`fault "${text}": status must be 400–599`);
    return { mode: "status", status, retryAfterS };
  }
  if (retryAfterS !== undefined) throw new Error(`fault "${text}": retry-after only combines with status`);
  if (BARE_MODES.has(mode) && arg === undefined) return { mode: mode as BareFaultMode };
  if (mode === "slow-first-token") return { mode, delayMs: nonNegative(arg, text) };
  if (TOKEN_MODES.has(mode)) return { mode: mode as TokenFaultMode, tokens: nonNegative(arg, text) };
  throw new Error(`unknown fault "${text}"; expected ${FAULT_SYNTAX}`);
}

function splitModeArg(head: string): [string, string | undefined] {
  const colon = head.indexOf(":");
  return colon < 0 ? [head, undefined] : [head.slice(0, colon), head.slice(colon + 1)];
}

function parseRetryAfter(options: readonly string[], text: string): number | undefined {
  if (options.length === 0) return undefined;
  const [option = "", ...extra] = options;
  const [name, arg] = splitModeArg(option.trim());
  if (name !== "retry-after" || extra.length > 0) throw new Error(`fault "${text}": only ",retry-after:S" may follow the mode`);
  return nonNegative(arg, text);
}

function nonNegative(arg: string | undefined, text: string): number {
  const value = Number(arg);
  if (arg === undefined || arg === "" || !Number.isFinite(value) || value < 0) {
    throw new Error(`fault "${text}": expected a non-negative number after ":"`);
  }
  return value;
}
