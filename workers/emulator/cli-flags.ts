import { FAULT_SYNTAX } from "./fault-spec.ts";
import { emulatorOptionsInput, type EmulatorOptionsInput } from "./options.ts";

/**
 * The emulator's command line, from one table: parsing, `--help` and the drift check in cli.test.ts
 * (every option has a row, every row an option) all read `FLAG_TABLE`. `--flag value` or `--flag=value`;
 * a `negatable` boolean also takes `--no-flag`.
 */

type FlagKind = "number" | "string" | "boolean";

export interface FlagRow {
  readonly name: string;
  readonly kind: FlagKind;
  readonly defaultText: string;
  readonly meaning: string;
  readonly negatable: boolean;
}

/** [name, kind, default, meaning, negatable] — one row per flag. */
const ROW_DATA: readonly (readonly [string, FlagKind, string, string, boolean?])[] = [
  ["host", "string", "127.0.0.1", "address to listen on"],
  ["port", "number", "8000", "port to listen on (0 = any free port, see the listening line)"],
  ["profile", "string", "heavy", "heavy | light: timing defaults, served name and root model"],
  ["served-model-name", "string", "from profile", "the model name requests must use (else 404)"],
  ["model", "string", "from profile", "HF id shown as root in /v1/models"],
  ["max-model-len", "number", "16384", "context limit for the context-length 400s"],
  ["max-num-seqs", "number", "256", "running batch cap; the rest waits"],
  ["scheduling-policy", "string", "fcfs", "fcfs | priority: order the waiting queue by (priority, arrival)"],
  ["kv-cache-tokens", "number", "from profile", "KV capacity in tokens (admission, preemption, prefix-cache size)"],
  ["enable-prefix-caching", "boolean", "on",
    "16-token prompt blocks seen recently skip prefill (LRU within the KV capacity)", true],
  ["prefill-tokens-per-s", "number", "from profile", "prefill rate of the timing model"],
  ["step-base-ms", "number", "from profile", "decode step time t0 for a batch of one"],
  ["step-per-seq-ms", "number", "from profile", "extra step time per running sequence"],
  ["overhead-ms", "number", "25", "per-request overhead before prefill"],
  ["speed", "number", "1", "divides every modelled time (tests use 20-50)"],
  ["ttft-ms", "number", "off", "fixed timing: constant first-token delay (benchmarks)"],
  ["itl-ms", "number", "off", "fixed timing: constant inter-token gap (benchmarks)"],
  ["output-tokens", "number", "24", "natural answer length in tokens, EOS included"],
  ["reasoning", "string", "off", "qwen3: the model thinks (<think>...</think>) unless enable_thinking is false"],
  ["reasoning-parser", "string", "off", "qwen3: thinking goes to reasoning_content"],
  ["enable-auto-tool-choice", "boolean", "on",
    "tool_choice auto works; --no-enable-auto-tool-choice gives vLLM's 400", true],
  ["enable-server-load-tracking", "boolean", "off", "GET /load counts requests in flight (else 0)"],
  ["api-key", "string", "off", "/v1/* needs Authorization: Bearer <key>"],
  ["wire-profile", "string", "v0.11", "legacy | v0.11 (alias v0.10) | current: which vLLM wire to reproduce"],
  ["boot-delay-ms", "number", "0", "the port opens only after this long (model loading)"],
  ["keep-alive-timeout-s", "number", "5", "idle connections close this long after their last response"],
  ["refuse", "boolean", "off", "never listen (connection refused)"],
  ["die-after", "number", "off", "engine death when the Nth generation request's first token is due"],
  ["stay-after-death", "boolean", "off", "a dead engine's process stays up (health 503, JSON 500s)"],
  ["death-exit-ms", "number", "5000", "delay from engine death to process exit (watchdog)"],
  ["fault", "string", "off", `fault for generation requests: ${FAULT_SYNTAX}`],
  ["fault-count", "number", "all", "only the next N requests get --fault"],
  ["fault-rate", "number", "1", "fraction P of generation requests that get --fault (deterministic with --seed)"],
  ["seed", "number", "0", "seeds the --fault-rate draws"],
  ["version", "string", "0.11.0 (per profile)", "what GET /version reports"],
  ["enable-sleep-mode", "boolean", "off", "POST /sleep, POST /wake_up, GET /is_sleeping"],
  ["wake-ms", "number", "0", "how long /wake_up takes"],
];

export const FLAG_TABLE: readonly FlagRow[] = ROW_DATA.map(([name, kind, defaultText, meaning, negatable]) => ({
  name,
  kind,
  defaultText,
  meaning,
  negatable: negatable === true,
}));

/** vLLM flags accepted so deployment command lines work unchanged, but without effect here. */
const IGNORED_VALUE_FLAGS = new Set([
  "tool-call-parser",
  "quantization",
  "gpu-memory-utilization",
  "dtype",
  "max-num-batched-tokens",
]);
const IGNORED_BOOLEAN_FLAGS = new Set(["enable-log-requests"]);

const ROWS = new Map(FLAG_TABLE.map((row) => [row.name, row]));

export function usage(): string {
  const ignored = [...IGNORED_VALUE_FLAGS, ...IGNORED_BOOLEAN_FLAGS];
  const lines = FLAG_TABLE.map((row) => {
    const head = `--${row.name}${row.kind === "boolean" ? "" : ` <${row.kind}>`}`;
    const negation = row.negatable ? ` (or --no-${row.name})` : "";
    return `  ${head.padEnd(36)}${row.meaning}${negation} [default: ${row.defaultText}]`;
  });
  return [
    "usage: bun workers/emulator/main.ts [--flag value | --flag=value]...",
    ...lines,
    `  accepted and ignored (vLLM command lines): ${ignored.map((name) => `--${name}`).join(" ")}`,
    "  See workers/emulator/README.md.",
  ].join("\n");
}

export function parseFlags(argv: readonly string[]): EmulatorOptionsInput {
  const result: Record<string, string | number | boolean> = {};
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"`);
    const [rawName = "", inlineValue] = arg.slice(2).split(/=(.*)/s, 2);
    const negated = rawName.startsWith("no-") ? ROWS.get(rawName.slice(3)) : undefined;
    if (negated?.negatable && inlineValue === undefined) {
      result[camelCase(negated.name)] = false;
      continue;
    }
    if (IGNORED_BOOLEAN_FLAGS.has(rawName)) continue;
    const row = ROWS.get(rawName);
    if (row === undefined && !IGNORED_VALUE_FLAGS.has(rawName)) throw new Error(`unknown flag --${rawName}`);
    if (row?.kind === "boolean" && inlineValue === undefined) {
      result[camelCase(rawName)] = true;
      continue;
    }
    const value = inlineValue ?? argv[++index];
    if (value === undefined) throw new Error(`flag --${rawName} needs a value`);
    if (row === undefined) continue;
    result[camelCase(rawName)] = convert(rawName, row.kind, value);
  }
  return emulatorOptionsInput.parse(result);
}

export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function convert(name: string, kind: FlagKind, value: string): string | number | boolean {
  if (kind === "string") return value;
  if (kind === "boolean") {
    if (value !== "true" && value !== "false") throw new Error(`flag --${name} expects true or false, got "${value}"`);
    return value === "true";
  }
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) {
    throw new Error(`flag --${name} expects a number, got "${value}"`);
  }
  return number;
}
