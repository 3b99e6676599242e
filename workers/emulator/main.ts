import { z } from "zod";
import { FAULT_SYNTAX } from "./fault-spec.ts";
import { emulatorOptionsInput, resolveOptions, type EmulatorOptionsInput } from "./options.ts";
import { startEmulator } from "./server.ts";

/**
 * CLI: `bun workers/emulator/main.ts [--flag value | --flag=value]...`. Prints one JSON line
 * `{"event":"listening","url":…}` once the port is open; bad flags exit 2 with a message.
 */

type FlagKind = "number" | "string" | "boolean";

const FLAGS: Readonly<Record<string, FlagKind>> = {
  host: "string",
  port: "number",
  profile: "string",
  "served-model-name": "string",
  model: "string",
  "max-model-len": "number",
  "max-num-seqs": "number",
  "scheduling-policy": "string",
  "kv-cache-tokens": "number",
  "prefill-tokens-per-s": "number",
  "step-base-ms": "number",
  "step-per-seq-ms": "number",
  "overhead-ms": "number",
  speed: "number",
  "ttft-ms": "number",
  "itl-ms": "number",
  "output-tokens": "number",
  reasoning: "string",
  "reasoning-parser": "string",
  "enable-auto-tool-choice": "boolean",
  "enable-server-load-tracking": "boolean",
  "api-key": "string",
  "wire-profile": "string",
  "boot-delay-ms": "number",
  "keep-alive-timeout-s": "number",
  refuse: "boolean",
  "die-after": "number",
  "stay-after-death": "boolean",
  "death-exit-ms": "number",
  fault: "string",
  "fault-count": "number",
  version: "string",
  "enable-sleep-mode": "boolean",
  "wake-ms": "number",
};

/** vLLM flags accepted so deployment command lines work unchanged, but without effect here. */
const IGNORED_VALUE_FLAGS = new Set(["tool-call-parser", "quantization", "gpu-memory-utilization", "dtype", "max-num-batched-tokens"]);
const IGNORED_BOOLEAN_FLAGS = new Set(["enable-prefix-caching", "enable-log-requests"]);

const USAGE = `usage: bun workers/emulator/main.ts [flags]
  ${Object.entries(FLAGS)
    .map(([name, kind]) => `--${name}${kind === "boolean" ? "" : ` <${kind}>`}`)
    .join("\n  ")}
  --no-enable-auto-tool-choice   reject tool_choice "auto" like vLLM without the tool flags
  fault syntax: ${FAULT_SYNTAX}
  See workers/emulator/README.md.`;

export function parseFlags(argv: readonly string[]): EmulatorOptionsInput {
  const result: Record<string, string | number | boolean> = {};
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"`);
    const [rawName = "", inlineValue] = arg.slice(2).split(/=(.*)/s, 2);
    if (rawName === "no-enable-auto-tool-choice") {
      result["enableAutoToolChoice"] = false;
      continue;
    }
    if (IGNORED_BOOLEAN_FLAGS.has(rawName)) continue;
    const kind = FLAGS[rawName];
    if (kind === undefined && !IGNORED_VALUE_FLAGS.has(rawName)) throw new Error(`unknown flag --${rawName}`);
    if (kind === "boolean" && inlineValue === undefined) {
      result[camelCase(rawName)] = true;
      continue;
    }
    const value = inlineValue ?? argv[++index];
    if (value === undefined) throw new Error(`flag --${rawName} needs a value`);
    if (kind === undefined) continue;
    result[camelCase(rawName)] = convert(rawName, kind, value);
  }
  return emulatorOptionsInput.parse(result);
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

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function describeError(error: unknown): string {
  if (error instanceof z.ZodError) {
    return error.issues.map((issue) => `--${issue.path.join(".").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message}`).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  let input: EmulatorOptionsInput;
  try {
    input = parseFlags(argv);
    resolveOptions(input);
  } catch (error) {
    console.error(`emulator: ${describeError(error)}\n${USAGE}`);
    process.exit(2);
  }
  try {
    const handle = await startEmulator(input, {
      onExit: () => {
        console.log(JSON.stringify({ event: "died" }));
        process.exit(1);
      },
    });
    if (handle.options.refuse) {
      console.log(JSON.stringify({ event: "refusing", port: handle.port }));
      setInterval(() => {}, 1 << 30);
      return;
    }
    const shutdown = (): void => void handle.stop().then(() => process.exit(0));
    process.on("SIGTERM", shutdown);
    process.on("SIGINT", shutdown);
    console.log(JSON.stringify({ event: "listening", url: handle.url, port: handle.port, model: handle.options.servedModelName }));
  } catch (error) {
    console.error(`emulator: ${describeError(error)}`);
    process.exit(1);
  }
}

if (import.meta.main) await main();
