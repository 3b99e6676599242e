import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { waitFor } from "../../src/testing/poll.ts";
import { startEmulator, type EmulatorHandle } from "./server.ts";

/** Sleep mode: the three vLLM routes, generation refused while asleep, in-flight work cut by /sleep. */

const WAKE_MS = 300;
let sleeper: EmulatorProcess;
let plain: EmulatorHandle;

beforeAll(async () => {
  [sleeper, plain] = await Promise.all([
    spawnEmulator(["--profile", "light", "--speed", "20", "--enable-sleep-mode", "--wake-ms", String(WAKE_MS)]),
    startEmulator({ port: 0, speed: 20 }),
  ]);
});

afterAll(async () => {
  await Promise.all([sleeper.stop(), plain.stop()]);
});

const isSleeping = async (url: string): Promise<unknown> => (await fetch(`${url}/is_sleeping`)).json();
const chat = (url: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "light", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
  });

describe("sleep mode routes", () => {
  test.each([
    ["POST", "/sleep"],
    ["POST", "/wake_up"],
    ["GET", "/is_sleeping"],
  ])("without --enable-sleep-mode %s %s is not a route (404)", async (method, path) => {
    const response = await fetch(`${plain.url}${path}`, { method });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: "Not Found" });
  });

  test("sleep, refuse generation, wake after --wake-ms, serve again", async () => {
    expect(await isSleeping(sleeper.url)).toEqual({ is_sleeping: false });
    const slept = await fetch(`${sleeper.url}/sleep?level=1`, { method: "POST" });
    expect(slept.status).toBe(200);
    expect(await slept.text()).toBe("");
    expect(await isSleeping(sleeper.url)).toEqual({ is_sleeping: true });

    const refused = await chat(sleeper.url);
    expect(refused.status).toBe(500);
    expect(await refused.json()).toEqual({
      error: {
        message: "EngineCore encountered an issue. See stack trace (above) for the root cause.",
        type: "Internal Server Error",
        param: null,
        code: 500,
      },
    });
    // Routes that need no weights keep working.
    expect((await fetch(`${sleeper.url}/v1/models`)).status).toBe(200);
    expect((await fetch(`${sleeper.url}/health`)).status).toBe(200);

    const waking = fetch(`${sleeper.url}/wake_up`, { method: "POST" });
    // Still asleep while the weights come back.
    expect(await isSleeping(sleeper.url)).toEqual({ is_sleeping: true });
    expect((await chat(sleeper.url)).status).toBe(500);
    const woke = await waking;
    expect(woke.status).toBe(200);
    expect(await isSleeping(sleeper.url)).toEqual({ is_sleeping: false });
    expect((await chat(sleeper.url)).status).toBe(200);
  });

  test.each(["0", "3", "deep"])(
    "level %s is refused with vLLM's unhandled-exception 500 and does not sleep",
    async (level) => {
      const response = await fetch(`${sleeper.url}/sleep?level=${level}`, { method: "POST" });
      expect(response.status).toBe(500);
      expect(await isSleeping(sleeper.url)).toEqual({ is_sleeping: false });
    },
  );
});

describe("sleep with requests in flight", () => {
  test("a stream running when /sleep arrives is cut, and counted", async () => {
    const worker = await startEmulator({ port: 0, speed: 20, enableSleepMode: true, outputTokens: 2_000 });
    try {
      const sdk = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const stream = await sdk.chat.completions.create({
        model: "heavy",
        messages: [{ role: "user", content: "tell me" }],
        stream: true,
      });
      const reading = (async () => {
        for await (const chunk of stream) void chunk;
      })();
      await waitFor(() => worker.state().running === 1, 5_000, "the stream to run");
      await fetch(`${worker.url}/sleep`, { method: "POST" });
      await expect(reading).rejects.toThrow();
      expect(worker.state()).toMatchObject({ sleeping: true, cutBySleep: 1 });
    } finally {
      await worker.stop();
    }
  });
});
