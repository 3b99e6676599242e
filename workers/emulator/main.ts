import { z } from "zod";
import { parseFlags, usage } from "./cli-flags.ts";
import { resolveOptions, type EmulatorOptionsInput } from "./options.ts";
import { startEmulator } from "./server.ts";

/**
 * CLI: `bun workers/emulator/main.ts [--flag value | --flag=value]...`. Prints one JSON line
 * `{"event":"listening","url":…}` once the port is open; `--help` prints every flag (cli-flags.ts) and
 * exits 0; bad flags exit 2 with a message and the usage.
 */

function describeError(error: unknown): string {
  if (error instanceof z.ZodError) {
    return error.issues.map((issue) => `--${issue.path.join(".").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message}`).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage());
    return;
  }
  let input: EmulatorOptionsInput;
  try {
    input = parseFlags(argv);
    resolveOptions(input);
  } catch (error) {
    console.error(`emulator: ${describeError(error)}\n${usage()}`);
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
