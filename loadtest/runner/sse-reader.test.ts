import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readSseEvents } from "./sse-reader.ts";

// Each case is served byte for byte by a real server, split into separately flushed parts, so
// events cut across network reads are exercised for real.
const CASES: { name: string; parts: string[]; events: string[] }[] = [
  { name: "vLLM framing", parts: ['data: {"a":1}\n\ndata: [DONE]\n\n'], events: ['{"a":1}', "[DONE]"] },
  { name: "event split across reads", parts: ['data: {"a"', ':1}\n', "\ndata: [DONE]\n\n"], events: ['{"a":1}', "[DONE]"] },
  { name: "CRLF line endings", parts: ["data: x\r\n\r\ndata: y\r\n\r\n"], events: ["x", "y"] },
  { name: "CRLF split between reads", parts: ["data: a\r", "\ndata: b\r\n\r\n"], events: ["a\nb"] },
  { name: "comments and other fields skipped", parts: [": keep-alive\n\nevent: message\nid: 7\ndata: z\n\n"], events: ["z"] },
  { name: "multi-line data joined", parts: ["data: one\ndata: two\n\n"], events: ["one\ntwo"] },
  { name: "no space after colon", parts: ["data:tight\n\n"], events: ["tight"] },
  { name: "unterminated tail dropped", parts: ["data: whole\n\ndata: cut"], events: ["whole"] },
];

let server: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const index = Number(new URL(request.url).searchParams.get("case"));
      const parts = CASES[index]?.parts ?? [];
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const part = parts.shift();
          if (part === undefined) return controller.close();
          controller.enqueue(encoder.encode(part));
          // Yield so each part leaves in its own write.
          await Bun.sleep(1);
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
});

afterAll(() => server.stop(true));

describe("readSseEvents", () => {
  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", async (_name, index) => {
    const response = await fetch(`${server.url}?case=${index}`);
    if (response.body === null) throw new Error("no body");
    const events: string[] = [];
    for await (const event of readSseEvents(response.body)) events.push(event.data);
    expect(events).toEqual(CASES[index]?.events ?? []);
  });
});
