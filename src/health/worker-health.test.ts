import { describe, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { SlotState } from "../pool/pool-state.ts";
import { Pools, type Worker } from "../pool/pools.ts";
import { selectSlot } from "../pool/ring.ts";
import { ManualSchedule } from "../testing/manual-schedule.ts";
import { type WorkerEvent, WorkerEventBus } from "./worker-events.ts";
import { type ProbeReport, WorkerHealth } from "./worker-health.ts";

const URLS = ["http://w0:8000", "http://w1:8000", "http://w2:8000"];

function setup(workers: readonly string[] = URLS, probeBeforeTrial?: (worker: Worker) => Promise<ProbeReport>) {
  const config = parseConfig({
    pools: { heavy: { workers: [...workers] } },
    health: { ejectBaseMs: 1_000, ejectMaxMs: 3_000, healthyThreshold: 2, unhealthyThreshold: 2, stuckAfterMs: 500 },
  });
  const pools = new Pools(config);
  const events: WorkerEvent[] = [];
  const bus = new WorkerEventBus();
  bus.on((event) => events.push(event));
  const clock = new ManualSchedule(1_000_000);
  const { now, schedule } = clock;
  const health = new WorkerHealth({ pools, events: bus, config: () => config, now, schedule, probeBeforeTrial });
  const pool = pools.get("heavy");
  if (!pool) throw new Error("no pool");
  const worker = (index: number): Worker => pool.workers()[index] as Worker;
  const slot = (index: number): number => pool.state.state(worker(index).slot);
  const state = (index: number): string => health.snapshot().heavy?.[index]?.state ?? "missing";
  return { health, pool, clock, events, worker, slot, state };
}

const pass: ProbeReport = { ok: true, refused: false, detail: "/health 200", latencyMs: 1 };
const refused: ProbeReport = { ok: false, refused: true, detail: "ECONNREFUSED", latencyMs: 1 };
const broken: ProbeReport = { ok: false, refused: false, detail: "/health answered 503", latencyMs: 1 };
const silent: ProbeReport = { ok: false, refused: false, timedOut: true, detail: "no answer within 2000 ms", latencyMs: 2_000 };

describe("passive ejection", () => {
  test("eject → cooldown → one half-open trial → recovered, backoff reset", () => {
    const { health, pool, clock, events, worker, slot, state } = setup();
    health.failure(worker(0), "connect");
    expect([slot(0), state(0)]).toEqual([SlotState.Down, "ejected"]);
    clock.advance(999);
    expect(slot(0)).toBe(SlotState.Down);
    clock.advance(1);
    expect([slot(0), state(0)]).toEqual([SlotState.Probation, "probation"]);
    // Exactly one caller wins the trial; the others skip the worker.
    const picks = Array.from({ length: 6 }, () => selectSlot(pool.state));
    expect(picks.filter((picked) => picked === worker(0).slot)).toHaveLength(1);
    expect(state(0)).toBe("trial");
    health.success(worker(0));
    expect([slot(0), state(0)]).toEqual([SlotState.Up, "healthy"]);
    expect(events.map((event) => `${event.state}/${event.actor}`)).toEqual(["ejected/traffic", "probation/cooldown", "recovered/traffic"]);
    health.failure(worker(0), "status_5xx");
    clock.advance(1_000);
    expect(state(0)).toBe("probation");
  });

  test("a failed trial re-ejects with a doubled cooldown, capped at ejectMaxMs", () => {
    const { health, clock, worker, state } = setup();
    const cooldowns: number[] = [];
    health.failure(worker(1), "timeout_first_token");
    for (let round = 0; round < 4; round++) {
      let waitedMs = 0;
      while (state(1) !== "probation") {
        clock.advance(100);
        waitedMs += 100;
      }
      cooldowns.push(waitedMs);
      health.failure(worker(1), "status_5xx");
    }
    expect(cooldowns).toEqual([1_000, 2_000, 3_000, 3_000]);
    expect(health.snapshot().heavy?.[1]?.reason).toContain("trial failed: answered 5xx");
  });

  test("late failures from requests sent before the ejection do not extend it", () => {
    const { health, clock, worker, state } = setup();
    health.failure(worker(0), "connect");
    clock.advance(900);
    health.failure(worker(0), "mid_stream");
    clock.advance(100);
    expect(state(0)).toBe("probation");
  });

  test("never ejects a pool's last serving worker", () => {
    const { health, worker, state, slot } = setup(["http://only:8000"]);
    health.failure(worker(0), "connect");
    expect([state(0), slot(0)]).toEqual(["healthy", SlotState.Up]);
  });

  test("a trial that ended without a verdict (client abort) is reopened by the sweep", () => {
    const { health, pool, clock, worker, slot } = setup();
    health.failure(worker(2), "connect");
    clock.advance(1_000);
    while (selectSlot(pool.state) !== worker(2).slot);
    expect(slot(2)).toBe(SlotState.Trial);
    health.sweep();
    expect(slot(2)).toBe(SlotState.Probation);
  });
});

describe("active probes", () => {
  test("refused before ever healthy is 'starting', logged once; thresholds flip state", () => {
    const { health, events, worker, state, slot } = setup();
    for (let i = 0; i < 5; i++) health.probed(worker(0), refused);
    expect([state(0), slot(0)]).toEqual(["starting", SlotState.Down]);
    expect(events).toHaveLength(1);
    health.probed(worker(0), pass);
    expect(state(0)).toBe("starting");
    health.probed(worker(0), pass);
    expect([state(0), slot(0)]).toEqual(["healthy", SlotState.Up]);
    health.probed(worker(0), broken);
    expect(state(0)).toBe("healthy");
    health.probed(worker(0), refused);
    expect([state(0), slot(0)]).toEqual(["unhealthy", SlotState.Down]);
    expect(health.snapshot().heavy?.[0]?.reason).toBe("2 failed probes: ECONNREFUSED");
    expect(events.map((event) => event.state)).toEqual(["starting", "healthy", "unhealthy"]);
  });

  test("the probe wins over an ended cooldown: back only once it passes, then via one trial", () => {
    const { health, clock, worker, state } = setup();
    health.probed(worker(0), pass);
    health.failure(worker(0), "connect");
    health.probed(worker(0), refused);
    health.probed(worker(0), refused);
    clock.advance(1_000);
    expect(state(0)).toBe("unhealthy");
    health.probed(worker(0), pass);
    health.probed(worker(0), pass);
    expect(state(0)).toBe("probation");
  });
});

describe("a probe that times out while traffic gets answers", () => {
  // Default health timing: interval 5 s + timeout 2 s is the window in which an answer excuses a timeout.
  test.each([
    { name: "timeouts, no traffic: unhealthy", failure: silent, answeredAgoMs: undefined, state: "unhealthy" },
    { name: "timeouts while the worker answers requests: busy, stays healthy", failure: silent, answeredAgoMs: 3_000, state: "healthy" },
    { name: "timeouts, last answer before the previous round: unhealthy", failure: silent, answeredAgoMs: 7_001, state: "unhealthy" },
    { name: "a 503 from /health is not excused by traffic", failure: broken, answeredAgoMs: 0, state: "unhealthy" },
    { name: "a refused connection is not excused by traffic", failure: refused, answeredAgoMs: 0, state: "unhealthy" },
  ])("$name", ({ failure, answeredAgoMs, state: expected }) => {
    const { health, clock, worker, state, slot } = setup();
    health.probed(worker(0), pass);
    for (let round = 0; round < 3; round++) {
      if (answeredAgoMs !== undefined) {
        health.success(worker(0));
        clock.advance(answeredAgoMs);
      }
      health.probed(worker(0), failure);
      clock.advance(5_000);
    }
    expect(state(0)).toBe(expected);
    expect(slot(0)).toBe(expected === "healthy" ? SlotState.Up : SlotState.Down);
    if (expected === "healthy") expect(health.snapshot().heavy?.[0]?.lastProbe?.detail).toMatch(/busy, not failing$/);
  });
});

describe("operator and stuck", () => {
  test("drain beats a passing probe; undrain restores the derived state", () => {
    const { health, worker, state, slot, events } = setup();
    health.drain("heavy", "http://w1:8000/", "ops");
    health.probed(worker(1), pass);
    expect([state(1), slot(1)]).toEqual(["drained", SlotState.Down]);
    health.undrain("heavy", "http://w1:8000", "ops");
    expect([state(1), slot(1)]).toEqual(["healthy", SlotState.Up]);
    expect(events.map((event) => `${event.state}/${event.actor}`)).toEqual(["drained/ops", "undrained/ops"]);
    expect(() => health.drain("heavy", "http://nope:1", "ops")).toThrow(expect.objectContaining({ code: "not_found", param: "url" }));
  });

  test("running > 0 with a frozen token counter for stuckAfterMs is 'stuck' until tokens move", () => {
    const { health, clock, worker, state, slot } = setup();
    const load = (running: number, tokens: number) => ({ running, waiting: 0, kvCacheUsage: 0.1, generationTokensTotal: tokens, promptTokensTotal: 0, scrapedAtMs: clock.nowMs });
    const steps: [number, number, number, string][] = [
      [0, 0, 100, "healthy"],
      [100, 2, 100, "healthy"],
      [400, 2, 100, "healthy"],
      [100, 2, 100, "stuck"],
      [100, 2, 130, "healthy"],
      [600, 2, 130, "stuck"],
      [100, 0, 130, "healthy"],
    ];
    for (const [advanceMs, running, tokens, expected] of steps) {
      clock.advance(advanceMs);
      health.loaded(worker(2), load(running, tokens));
      expect(state(2)).toBe(expected);
    }
    expect(slot(2)).toBe(SlotState.Up);
    expect(health.workerLoad("http://w2:8000")?.generationTokensTotal).toBe(130);
  });
});

describe("frozen, hung and the probe before a trial", () => {
  test("unresponsive ejects even a pool's last worker, evented as its kind; while ejected it only re-emits", () => {
    const { health, worker, state, slot, events } = setup(["http://only:8000"]);
    health.unresponsive(worker(0), "frozen", "no answer to /health");
    expect([state(0), slot(0)]).toEqual(["ejected", SlotState.Down]);
    expect(health.snapshot().heavy?.[0]?.reason).toMatch(/^frozen: no answer to \/health; cooldown until /);
    health.unresponsive(worker(0), "hung", "no token");
    expect(events.map((event) => `${event.state}/${event.actor}`)).toEqual(["frozen/probe", "hung/probe"]);
    expect(health.snapshot().heavy?.[0]?.ejections).toBe(1);
  });

  test("a cooldown's end probes first: a failure re-ejects (doubled cooldown, no trial), a pass opens it", async () => {
    const answers = [refused, pass];
    const probed: string[] = [];
    const probe = async (target: Worker): Promise<ProbeReport> => {
      probed.push(target.url);
      return answers.shift() ?? broken;
    };
    const { health, pool, clock, worker, state, slot, events } = setup(URLS, probe);
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    health.failure(worker(0), "connect");
    clock.advance(1_000);
    await settle();
    expect([state(0), slot(0), probed.length]).toEqual(["ejected", SlotState.Down, 1]);
    expect(health.snapshot().heavy?.[0]?.reason).toContain("the probe before its trial failed: ECONNREFUSED");
    expect(Array.from({ length: 6 }, () => selectSlot(pool.state))).not.toContain(worker(0).slot);
    clock.advance(1_999);
    await settle();
    expect(probed.length).toBe(1);
    clock.advance(1);
    await settle();
    expect([state(0), slot(0), probed.length]).toEqual(["probation", SlotState.Probation, 2]);
    const seen = events.map((event) => `${event.state}/${event.actor}`);
    expect(seen).toEqual(["ejected/traffic", "ejected/probe", "probation/cooldown"]);
  });
});
