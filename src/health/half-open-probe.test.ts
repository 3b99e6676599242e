// Half-open behind a probe: when an ejected worker's cooldown ends it is probed first, and only a passing
// probe lets a client's request be its trial. A worker that is still dead or frozen gets no client request.

import { expect, test } from "bun:test";
import { stopAfterEach } from "../testing/stop-after-each.ts";
import type { ConfigInput } from "../config/schema.ts";
import type { EmulatorProcess } from "../testing/emulator-process.ts";
import { spawnEmulator } from "../testing/emulator-process.ts";
import { type ProcessGateway, startProcessGateway } from "../testing/process-gateway.ts";
import { waitFor } from "../testing/poll.ts";

const open = stopAfterEach<ProcessGateway>();

const WORKER = ["--ttft-ms", "20", "--itl-ms", "10", "--output-tokens", "8"];
const CONFIG: Partial<ConfigInput> = {
  timeouts: { connectMs: 1_000, firstTokenMs: 10_000, idleMs: 10_000, totalMs: 30_000 },
  // No probe rounds after the first: only the probe before each trial can let the worker back.
  health: { intervalMs: 60_000, timeoutMs: 500, ejectBaseMs: 400, ejectMaxMs: 800 },
};

interface Fault {
  name: string;
  /** Takes the worker down; the worker handle that serves once `back` ran. */
  down(worker: EmulatorProcess): void;
  back(worker: EmulatorProcess): Promise<EmulatorProcess>;
}

const faults: Fault[] = [
  {
    name: "killed (SIGKILL), then restarted on its port",
    down: (worker) => worker.kill("SIGKILL"),
    back: (worker) => spawnEmulator(["--served-model-name", "heavy", ...WORKER, "--port", String(worker.port)]),
  },
  {
    name: "frozen (SIGSTOP), then continued",
    down: (worker) => worker.kill("SIGSTOP"),
    back: async (worker) => {
      worker.kill("SIGCONT");
      return worker;
    },
  },
];

test.each(faults)(
  "$name: after each cooldown no client request reaches it until it is back",
  async ({ down, back }) => {
    const h = await startProcessGateway({ workers: [WORKER, WORKER], config: CONFIG });
    open.push(h);
    const [target, other] = h.emulators;
    if (!target || !other) throw new Error("two workers expected");
    let stop = false;
    const failed: number[] = [];
    const loop = async (): Promise<void> => {
      while (!stop) {
        const response = await h.post({
          model: "heavy",
          max_tokens: 8,
          messages: [{ role: "user", content: "trial?" }],
        });
        if (response.status !== 200) failed.push(response.status);
        await response.arrayBuffer();
      }
    };
    const loops = [loop(), loop()];
    try {
      await check(h, target, down, back);
    } finally {
      stop = true;
      await Promise.allSettled(loops);
    }
    expect(failed).toEqual([]);
  },
  60_000,
);

async function check(
  h: ProcessGateway,
  target: EmulatorProcess,
  down: Fault["down"],
  back: Fault["back"],
): Promise<void> {
  await waitFor(() => h.records.some((record) => record.worker === target.url), 5_000, "traffic on the target");
  down(target);
  await waitFor(
    () => h.events.some(({ event }) => event.worker === target.url && event.state !== "healthy"),
    15_000,
    "the ejection",
  );
  const ejectedAt = h.records.length;
  // Several cooldowns (400 ms, then 800 ms) end while the worker is down; each one's probe fails.
  const ejections = () =>
    h.gateway.services.health?.snapshot().heavy?.find((worker) => worker.url === target.url)?.ejections ?? 0;
  await waitFor(
    () => ejections() >= 3,
    10_000,
    "three ejections (each cooldown's end decided while the worker is down)",
  );
  const whileDown = h.records.slice(ejectedAt);
  const revived = await back(target);
  if (revived !== target) h.emulators.push(revived);
  await waitFor(
    () => h.events.some(({ event }) => event.worker === target.url && event.state === "recovered"),
    10_000,
    "the trial's recovery",
  );
  await waitFor(
    () => h.records.filter((record) => record.worker === target.url).length >= 3,
    5_000,
    "traffic back on the target",
  );

  expect(whileDown.length).toBeGreaterThan(10);
  // Requests that started before the ejection may still have tried it; none that started after.
  const startedLater = whileDown.slice(4);
  expect(startedLater.flatMap((record) => record.attempts).filter((attempt) => attempt.worker === target.url)).toEqual(
    [],
  );
  expect(h.events.filter(({ event }) => /before its trial failed/.test(event.reason)).length).toBeGreaterThanOrEqual(2);
  const states = h.events.filter(({ event }) => event.worker === target.url).map(({ event }) => event.state);
  expect(states.slice(-2)).toEqual(["probation", "recovered"]);
}
