import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT } from "./compose-model.ts";

/** The Dockerfile's instructions, continuation lines joined, comments dropped (enough for this repo's file). */
const instructions = readFileSync(resolve(REPO_ROOT, "Dockerfile"), "utf8")
  .replace(/\\\n\s*/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith("#"));

/** Arguments of every instruction with this keyword, in file order. */
export function dockerInstructions(keyword: string): string[] {
  return instructions.filter((line) => line.startsWith(`${keyword} `)).map((line) => line.slice(keyword.length + 1));
}

/** `ENV KEY=value ...` pairs (unquoted values only), as the final image sets them. */
export function imageEnv(): Record<string, string> {
  const pairs = dockerInstructions("ENV").flatMap((args) => args.split(/\s+/));
  return Object.fromEntries(pairs.map((pair) => pair.split(/=(.*)/s, 2) as [string, string]));
}

/** The exec-form CMD of the final stage. */
export function imageCmd(): string[] {
  return JSON.parse(dockerInstructions("CMD").at(-1) ?? "[]") as string[];
}

/** The exec-form command of the image's HEALTHCHECK. */
export function imageHealthcheck(): string[] {
  const args = dockerInstructions("HEALTHCHECK").at(-1) ?? "";
  return JSON.parse(args.slice(args.indexOf("CMD ") + 4) || "[]") as string[];
}
