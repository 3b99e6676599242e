// Closed-loop HTTP load with Debian's wrk: fixed connections, as fast as the target answers.
// wrk reads chunked streams to their end, so one wrk "request" is one whole stream.

import { writeFileSync } from "node:fs";

export interface WrkResult {
  requests: number;
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx responses plus socket errors: any of these makes the run's numbers suspect. */
  errors: number;
}

export interface WrkSpec {
  url: string;
  body: object;
  connections: number;
  durationS: number;
  scriptPath: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (match?.[1] === undefined || match[2] === undefined) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2]] ?? Number.NaN);
}

export function parseWrkOutput(output: string): WrkResult {
  const p50 = /^\s+50%\s+(\S+)/m.exec(output)?.[1] ?? "";
  const p99 = /^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? "";
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requests,
    requestsPerS: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN),
    p50Ms: toMs(p50),
    p99Ms: toMs(p99),
    errors: non2xx + socketErrors,
  };
}

export async function runWrk(spec: WrkSpec): Promise<WrkResult> {
  // A Lua long string keeps the JSON body free of escaping.
  writeFileSync(
    spec.scriptPath,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${JSON.stringify(spec.body)}]==]\n`,
  );
  const child = Bun.spawn(
    ["wrk", "-t2", `-c${spec.connections}`, `-d${spec.durationS}s`, "--latency", "--timeout", "30s", "-s", spec.scriptPath, `${spec.url}/v1/chat/completions`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [output, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`wrk failed (${code}): ${stderr}`);
  const result = parseWrkOutput(output);
  if (!Number.isFinite(result.requests)) throw new Error(`unexpected wrk output:\n${output}`);
  return result;
}
