import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { WIRE_DIR } from "../../src/testing/wire-dir.ts";
import { startEmulator, type EmulatorHandle } from "./server.ts";

/** metrics.txt and headers.txt from vllm-wire, checked against a live emulator. */

let emulator: EmulatorHandle;
let keyed: EmulatorHandle;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, speed: 50 });
  keyed = await startEmulator({ port: 0, speed: 50, apiKey: "sekret" });
});

afterAll(async () => {
  await Promise.all([emulator.stop(), keyed.stop()]);
});

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "heavy", messages: [{ role: "user", content: "hello" }], ...extra });

/** Series identity: name, label keys in order, and the `le` bound (values and other label values vary). */
function seriesKey(line: string): string {
  const match = /^([^{\s]+)(?:\{([^}]*)\})?\s/.exec(line);
  if (!match) throw new Error(`not a series line: ${line}`);
  const labels = (match[2] ?? "").split(",").filter(Boolean).map((pair) => {
    const [key = "", value = ""] = pair.split("=");
    return key === "le" || key === "finished_reason" ? `${key}=${value}` : key;
  });
  return `${match[1]}{${labels.join(",")}}`;
}

describe("metrics.txt", () => {
  test("same families, HELP/TYPE text, label order, buckets and Go float formatting", async () => {
    await (await fetch(`${emulator.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody() })).text();
    const response = await fetch(`${emulator.url}/metrics`);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const actual = (await response.text()).split("\n").filter(Boolean);
    const expected = readFileSync(`${WIRE_DIR}/metrics.txt`, "utf8").split("\n").filter(Boolean);
    const meta = (lines: string[]) => lines.filter((line) => line.startsWith("# HELP") || line.startsWith("# TYPE"));
    expect(meta(actual)).toEqual(meta(expected));
    const series = (lines: string[]) => lines.filter((line) => !line.startsWith("#")).map(seriesKey);
    expect(series(actual)).toEqual(series(expected));
    for (const line of actual.filter((line) => !line.startsWith("#"))) {
      expect(line).toMatch(/ (\d+\.\d+(e[+-]\d\d)?|\d\.\d+e\+\d\d)$/);
    }
    const success = actual.find((line) => line.startsWith('vllm:request_success_total{engine="0",finished_reason="stop"'));
    expect(success).toEndWith(" 1.0");
  });
});

interface HeaderCase {
  readonly name: string;
  readonly url: () => string;
  readonly init?: RequestInit;
  readonly status: number;
  readonly contentType: string | null;
  readonly contentLength?: string;
  readonly chunked?: boolean;
}

const post = (body: string, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body,
});

const HEADER_CASES: readonly HeaderCase[] = [
  { name: "non-stream success", url: () => `${emulator.url}/v1/chat/completions`, init: post(chatBody()), status: 200, contentType: "application/json" },
  { name: "stream", url: () => `${emulator.url}/v1/chat/completions`, init: post(chatBody({ stream: true })), status: 200, contentType: "text/event-stream; charset=utf-8", chunked: true },
  { name: "error before streaming", url: () => `${emulator.url}/v1/chat/completions`, init: post(chatBody({ model: "nope" })), status: 404, contentType: "application/json" },
  { name: "health", url: () => `${emulator.url}/health`, status: 200, contentType: null, contentLength: "0" },
  // headers.txt shows v0.10.0's empty body; the FACTS corrections box (PR #22957, v0.10.2+) makes it JSON.
  {
    name: "engine dead 500",
    url: () => `${emulator.url}/v1/chat/completions`,
    init: post(chatBody(), { "x-emulator-fault": "status:500" }),
    status: 500,
    contentType: "application/json",
  },
  { name: "metrics", url: () => `${emulator.url}/metrics`, status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8" },
  { name: "401", url: () => `${keyed.url}/v1/models`, status: 401, contentType: "application/json" },
];

describe("headers.txt", () => {
  test.each(HEADER_CASES.map((headerCase) => [headerCase.name, headerCase] as const))("%s", async (_name, headerCase) => {
    const response = await fetch(headerCase.url(), headerCase.init);
    const body = await response.text();
    expect(response.status).toBe(headerCase.status);
    expect(response.headers.get("content-type")).toBe(headerCase.contentType);
    expect(response.headers.get("server")).toBe("uvicorn");
    if (headerCase.contentLength !== undefined) expect(response.headers.get("content-length")).toBe(headerCase.contentLength);
    if (headerCase.chunked) expect(response.headers.get("transfer-encoding")).toBe("chunked");
    else expect(response.headers.get("content-length")).toBe(String(Buffer.byteLength(body)));
  });

  test("health stays open and unauthenticated with --api-key", async () => {
    expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
    expect((await fetch(`${keyed.url}/v1/models`, { headers: { authorization: "Bearer sekret" } })).status).toBe(200);
  });
});
