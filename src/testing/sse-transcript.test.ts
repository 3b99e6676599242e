import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { readSse, readSseEvents } from "./sse-transcript.ts";

// Each body is served byte for byte by a real server, split into separately flushed parts, so
// events cut across network reads are exercised for real.
const EVENT_CASES: { name: string; parts: string[]; events: string[]; tail?: string }[] = [
  { name: "vLLM framing", parts: ['data: {"a":1}\n\ndata: [DONE]\n\n'], events: ['{"a":1}', "[DONE]"] },
  { name: "event split across reads", parts: ['data: {"a"', ':1}\n', "\ndata: [DONE]\n\n"], events: ['{"a":1}', "[DONE]"] },
  { name: "CRLF line endings", parts: ["data: x\r\n\r\ndata: y\r\n\r\n"], events: ["x", "y"] },
  { name: "CRLF split between reads", parts: ["data: a\r", "\ndata: b\r\n\r\n"], events: ["a\nb"] },
  { name: "comments and other fields skipped", parts: [": keep-alive\n\nevent: message\nid: 7\ndata: z\n\n"], events: ["z"] },
  { name: "multi-line data joined", parts: ["data: one\ndata: two\n\n"], events: ["one\ntwo"] },
  { name: "no space after colon", parts: ["data:tight\n\n"], events: ["tight"] },
  { name: "unterminated tail returned, not yielded", parts: ["data: whole\n\ndata: cut"], events: ["whole"], tail: "cut" },
];

const chunk = (content: string, finish: string | null = null): string =>
  `data: ${JSON.stringify({ choices: [{ delta: { content }, finish_reason: finish }] })}\n\n`;

const HEL = chunk("Hel");
const LO = chunk("lo", "stop");

const BODIES: Record<string, string[]> = {
  whole: [HEL.slice(0, 20), HEL.slice(20) + LO.slice(0, 9), LO.slice(9) + "data: [DONE]\n\n"],
  inband: [chunk("a"), 'data: {"error":{"code":"upstream_error","message":"cut"}}\n\n', chunk("late")],
  malformed: [chunk("a"), 'data: {"choi\n\n', 'data: {"choices":[{"delta":{"content":"cu'],
};

let server: ReturnType<typeof Bun.serve>;
// Raw HTTP, so the body can stop without its chunked terminator (a connection dropped mid-stream).
let dropper: TCPSocketListener;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const params = new URL(request.url).searchParams;
      const parts = [...(BODIES[params.get("body") ?? ""] ?? EVENT_CASES[Number(params.get("case"))]?.parts ?? [])];
      const encoder = new TextEncoder();
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const part = parts.shift();
          if (part === undefined) return controller.close();
          controller.enqueue(encoder.encode(part));
          // Yield so each part leaves in its own write.
          await Bun.sleep(1);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    },
  });
  const body = chunk("a") + chunk("b");
  dropper = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n`);
        // Close a moment later: Bun's fetch can drop body bytes that arrive in the same read as the close.
        setTimeout(() => socket.end(), 50);
      },
    },
  });
});

afterAll(() => {
  server.stop(true);
  dropper.stop(true);
});

describe("readSseEvents", () => {
  test.each(EVENT_CASES.map((c, i) => [c.name, i] as const))("%s", async (_name, index) => {
    const response = await fetch(`${server.url}?case=${index}`);
    if (response.body === null) throw new Error("no body");
    const events = readSseEvents(response.body);
    const seen: string[] = [];
    let next = await events.next();
    for (; !next.done; next = await events.next()) seen.push(next.value.data);
    expect(seen).toEqual(EVENT_CASES[index]?.events ?? []);
    expect(next.value).toBe(EVENT_CASES[index]?.tail);
  });

  test("stamps each event with the arrival of the read that completed it", async () => {
    const before = performance.now();
    const response = await fetch(`${server.url}?body=whole`);
    if (response.body === null) throw new Error("no body");
    const stamps: number[] = [];
    for await (const event of readSseEvents(response.body)) stamps.push(event.atMs);
    const [first = 0, second = 0, done = 0] = stamps;
    expect(stamps).toHaveLength(3);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(second).toBeGreaterThanOrEqual(first);
    // The second chunk and [DONE] end in the same part, so in the same read.
    expect(done).toBe(second);
  });
});

describe("readSse", () => {
  const transcriptOf = async (body: string) => readSse(await fetch(`${server.url}?body=${body}`));

  test("joins content from events split across reads and sees [DONE]", async () => {
    expect(await transcriptOf("whole")).toEqual({
      status: 200,
      content: "Hello",
      finishReason: "stop",
      choices: [{ content: "Hello", finishReason: "stop" }],
      contentChunks: 2,
      done: true,
      error: undefined,
      eventsAfterEnd: 0,
      malformed: 0,
      broken: undefined,
    });
  });

  test("keeps the in-band error and counts events after it", async () => {
    expect(await transcriptOf("inband")).toMatchObject({ done: false, error: { code: "upstream_error", message: "cut" }, eventsAfterEnd: 1 });
  });

  test("counts non-JSON data and an unterminated last event as malformed", async () => {
    expect(await transcriptOf("malformed")).toMatchObject({ content: "a", malformed: 2, broken: undefined });
  });

  test("a dropped connection is broken, with the events before it kept", async () => {
    const transcript = await readSse(await fetch(`http://127.0.0.1:${dropper.port}/`));
    expect(transcript.broken).toBeString();
    expect([transcript.content, transcript.done]).toEqual(["ab", false]);
  });
});
