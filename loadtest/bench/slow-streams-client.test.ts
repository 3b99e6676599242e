import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseVllmMetrics } from "../../src/health/vllm-metrics.ts";
import { type EmulatorProcess, spawnEmulator } from "../../src/testing/emulator-process.ts";
import { pollValue } from "../../src/testing/poll.ts";
import { measureSlowStreams } from "./slow-streams-client.ts";

let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await spawnEmulator(["--served-model-name", "heavy", "--ttft-ms", "5", "--itl-ms", "100"]);
});

afterAll(async () => {
  await emulator.stop();
});

async function running(): Promise<number> {
  const load = parseVllmMetrics(await (await fetch(`${emulator.url}/metrics`)).text(), Date.now());
  return load?.running ?? -1;
}

test("the closing notice comes while every held stream is still open, and the streams close after it", async () => {
  let runningAtNotice: Promise<number> | undefined;
  const result = await measureSlowStreams(emulator.url, 20, 3, 1000, () => {
    runningAtNotice = running();
  });
  expect(result).toMatchObject({ streams: 20, opened: 20, openFailures: 0, probeFailures: 0 });
  expect(await runningAtNotice).toBe(20);
  expect(await pollValue(running, (n) => n === 0, 5_000)).toBe(0);
});
