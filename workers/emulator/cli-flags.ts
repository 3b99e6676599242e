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
  readonly negatable?: boolean;
}

export const FLAG_TABLE: readonly FlagRow[] = [
  { name: "host", kind: "string", defaultText: "127.0.0.1", meaning: "address to listen on" },
  { name: "port", kind: "number", defaultText: "8000", meaning: "port to listen on (0 = any free port, see the listening line)" },
  { name: "profile", kind: "string", defaultText: "heavy", meaning: "heavy | light: timing defaults, served name and root model" },
  { name: "served-model-name", kind: "string", defaultText: "from profile", meaning: "the model name requests must use (else 404)" },
  { name: "model", kind: "string", defaultText: "from profile", meaning: "HF id shown as root in /v1/models" },
  { name: "max-model-len", kind: "number", defaultText: "16384", meaning: "context limit for the context-length 400s" },
  { name: "max-num-seqs", kind: "number", defaultText: "256", meaning: "running batch cap; the rest waits" },
  { name: "scheduling-policy", kind: "string", defaultText: "fcfs", meaning: "fcfs | priority: order the waiting queue by (priority, arrival)" },
  { name: "kv-cache-tokens", kind: "number", defaultText: "from profile", meaning: "KV capacity in tokens (admission, preemption, prefix-cache size)" },
  {
    name: "enable-prefix-caching",
    kind: "boolean",
    defaultText: "on",
    meaning: "16-token prompt blocks seen recently skip prefill (LRU within the KV capacity)",
    negatable: true,
  },
  { name: "prefill-tokens-per-s", kind: "number", defaultText: "from profile", meaning: "prefill rate of the timing model" },
  { name: "step-base-ms", kind: "number", defaultText: "from profile", meaning: "decode step time t0 for a batch of one" },
  { name: "step-per-seq-ms", kind: "number", defaultText: "from profile", meaning: "extra step time per running sequence" },
  { name: "overhead-ms", kind: "number", defaultText: "25", meaning: "per-request overhead before prefill" },
  { name: "speed", kind: "number", defaultText: "1", meaning: "divides every modelled time (tests use 20-50)" },
  { name: "ttft-ms", kind: "number", defaultText: "off", meaning: "fixed timing: constant first-token delay (benchmarks)" },
  { name: "itl-ms", kind: "number", defaultText: "off", meaning: "fixed timing: constant inter-token gap (benchmarks)" },
  { name: "output-tokens", kind: "number", defaultText: "24", meaning: "natural answer length in tokens, EOS included" },
  { name: "reasoning", kind: "string", defaultText: "off", meaning: "qwen3: the model thinks (<think>...</think>) unless enable_thinking is false" },
  { name: "reasoning-parser", kind: "string", defaultText: "off", meaning: "qwen3: thinking goes to reasoning_content" },
  {
    name: "enable-auto-tool-choice",
    kind: "boolean",
    defaultText: "on",
    meaning: "tool_choice auto works; --no-enable-auto-tool-choice gives vLLM's 400",
    negatable: true,
  },
  { name: "enable-server-load-tracking", kind: "boolean", defaultText: "off", meaning: "GET /load counts requests in flight (else 0)" },
  { name: "api-key", kind: "string", defaultText: "off", meaning: "/v1/* needs Authorization: Bearer <key>" },
  { name: "wire-profile", kind: "string", defaultText: "v0.11", meaning: "legacy | v0.11 (alias v0.10) | current: which vLLM wire to reproduce" },
  { name: "boot-delay-ms", kind: "number", defaultText: "0", meaning: "the port opens only after this long (model loading)" },
  { name: "keep-alive-timeout-s", kind: "number", defaultText: "5", meaning: "idle connections close this long after their last response" },
  { name: "refuse", kind: "boolean", defaultText: "off", meaning: "never listen (connection refused)" },
  { name: "die-after", kind: "number", defaultText: "off", meaning: "engine death when the Nth generation request's first token is due" },
  { name: "stay-after-death", kind: "boolean", defaultText: "off", meaning: "a dead engine's process stays up (health 503, JSON 500s)" },
  { name: "death-exit-ms", kind: "number", defaultText: "5000", meaning: "delay from engine death to process exit (watchdog)" },
  { name: "fault", kind: "string", defaultText: "off", meaning: `fault for generation requests: ${FAULT_SYNTAX}` },
  { name: "fault-count", kind: "number", defaultText: "all", meaning: "only the next N requests get --fault" },
  { name: "fault-rate", kind: "number", defaultText: "1", meaning: "fraction P of generation requests that get --fault (deterministic with --seed)" },
  { name: "seed", kind: "number", defaultText: "0", meaning: "seeds the --fault-rate draws" },
  { name: "version", kind: "string", defaultText: "0.11.0 (per profile)", meaning: "what GET /version reports" },
  { name: "enable-sleep-mode", kind: "boolean", defaultText: "off", meaning: "POST /sleep, POST /wake_up, GET /is_sleeping" },
  { name: "wake-ms", kind: "number", defaultText: "0", meaning: "how long /wake_up takes" },
];

/** vLLM flags accepted so deployment command lines work unchanged, but without effect here. */
const IGNORED_VALUE_FLAGS = new Set(["tool-call-parser", "quantization", "gpu-memory-utilization", "dtype", "max-num-batched-tokens"]);
const IGNORED_BOOLEAN_FLAGS = new Set(["enable-log-requests"]);

const ROWS = new Map(FLAG_TABLE.map((row) => [row.name, row]));

export function usage(): string {
  const lines = FLAG_TABLE.map((row) => {
    const head = `--${row.name}${row.kind === "boolean" ? "" : ` <${row.kind}>`}`;
    const negation = row.negatable ? ` (or --no-${row.name})` : "";
    return `  ${head.padEnd(36)}${row.meaning}${negation} [default: ${row.defaultText}]`;
  });
  return [
    "usage: bun workers/emulator/main.ts [--flag value | --flag=value]...",
    ...lines,
    `  accepted and ignored (vLLM command lines): ${[...IGNORED_VALUE_FLAGS, ...IGNORED_BOOLEAN_FLAGS].map((name) => `--${name}`).join(" ")}`,
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
  if (value.trim() === "" || !Number.isFinite(number)) throw new Error(`flag --${name} expects a number, got "${value}"`);
  return number;
}
