// A stream that started is still bounded: by the request's total budget, and by a client that stops
// reading. Either way it ends and the worker's slot is freed (the emulator no longer runs the request).

import { afterEach, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { waitFor } from "../testing/poll.ts";
import { readSse } from "../testing/sse-transcript.ts";

const MESSAGES = [{ role: "user", content: "Tell the whole saga." }];
const open: EmulatedGateway[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const harness of open.splice(0)) await harness.stop();
});

test("a stream longer than totalMs ends at totalMs with an in-band timeout, no [DONE], the worker freed", async () => {
  // 400 tokens at 15 ms: six seconds of answer against a one-second budget.
  const h = await startEmulatedGateway({
    pools: { heavy: 1 },
    timeouts: { totalMs: 1_000 },
    emulator: { outputTokens: 400 },
  });
  open.push(h);
  const startedMs = performance.now();
  const response = await h.fixture.post("/v1/chat/completions", { model: "heavy", messages: MESSAGES, stream: true });
  const transcript = await readSse(response);
  const elapsedMs = performance.now() - startedMs;
  expect([transcript.done, transcript.error?.code]).toEqual([false, "upstream_timeout"]);
  expect(transcript.content.length).toBeGreaterThan(0);
  expect(elapsedMs).toBeGreaterThanOrEqual(950);
  expect(elapsedMs).toBeLessThan(3_000);
  await waitFor(() => h.fixture.records.length === 1, 5_000, "the request record");
  expect(h.fixture.records[0]?.outcome).toBe("timeout");
  // Past the total budget no continuation is tried.
  expect(h.fixture.records[0]?.continuations).toBeUndefined();
  await waitFor(() => h.emulators[0]?.state().running === 0, 2_000, "the worker to drop the request");
});

test("a client that stops reading for idleMs ends the stream and frees the worker", async () => {
  // A long, fast answer (~12 MB of events) fills every socket buffer of a client that reads nothing.
  const emulator = { outputTokens: 50_000, maxModelLen: 100_000, itlMs: 0 };
  const h = await startEmulatedGateway({ pools: { heavy: 1 }, timeouts: { idleMs: 500, totalMs: 60_000 }, emulator });
  open.push(h);
  const url = new URL(h.fixture.url);
  const socket = connect(Number(url.port), url.hostname);
  sockets.push(socket);
  const body = JSON.stringify({ model: "heavy", messages: MESSAGES, stream: true });
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n`);
  socket.write(`content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.pause();
  await waitFor(() => h.emulators[0]?.state().running === 1, 5_000, "the stream to start");
  await waitFor(() => h.fixture.records.length === 1, 10_000, "the stalled stream's record");
  expect(h.fixture.records[0]).toMatchObject({ outcome: "client_abort", partial: true });
  await waitFor(() => h.emulators[0]?.state().running === 0, 2_000, "the worker to drop the request");
});
