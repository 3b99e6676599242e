import { parseArgs } from "node:util";

/**
 * The command-line contract every `bun run <command>` shares: `--help` prints every option with its
 * meaning and default and exits 0 without starting anything; a wrong option exits 2 with the usage.
 */
export interface CliOption {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder for the value in the usage, e.g. `URL`. */
  value?: string;
  description: string;
  /** Shown in the usage; the command applies it (it may come from the environment). Flags: off; else none. */
  default?: string;
}

export interface CliSpec<O extends Record<string, CliOption>> {
  /** How it is run, e.g. `bun run stats -- [options]`. */
  usage: string;
  summary: string;
  options: O;
  /** Positional arguments are accepted only when the usage names them. */
  allowPositionals?: boolean;
  /** Further sections, e.g. the environment variables read. */
  notes?: string;
}

export type CliValues<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean | undefined : string | undefined;
};

const HELP: CliOption = { type: "boolean", short: "h", description: "print this help and exit" };

export function formatUsage<O extends Record<string, CliOption>>(spec: CliSpec<O>): string {
  const rows = Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : "    "}--${name}${option.value ? ` ${option.value}` : ""}`;
    const fallback = option === HELP ? undefined : option.type === "boolean" ? "off" : (option.default ?? "none");
    return [flag, `${option.description}${fallback === undefined ? "" : ` (default: ${fallback})`}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`);
  return [`usage: ${spec.usage}`, spec.summary, "", "options:", ...lines, ...(spec.notes ? ["", spec.notes] : [])].join("\n");
}

/** Prints the problem and the usage to stderr and exits 2, the shell's "wrong usage" code. */
export function exitWithUsage<O extends Record<string, CliOption>>(spec: CliSpec<O>, problem: string): never {
  console.error(`${problem}\n\n${formatUsage(spec)}`);
  process.exit(2);
}

/** Parses `argv` strictly; `--help` prints the usage and exits 0, anything unknown exits 2. */
export function parseCommandLine<O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  argv: readonly string[],
): { values: CliValues<O>; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, help: HELP }).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: spec.allowPositionals ?? false });
  } catch (error) {
    exitWithUsage(spec, (error as Error).message);
  }
  if (parsed.values.help === true) {
    console.log(formatUsage(spec));
    process.exit(0);
  }
  return { values: parsed.values as CliValues<O>, positionals: parsed.positionals };
}
