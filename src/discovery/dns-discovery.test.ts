import { describe, expect, test } from "bun:test";
import { ManualSchedule } from "../testing/manual-schedule.ts";
import { waitFor } from "../testing/poll.ts";
import { DnsDiscovery, type Resolver, systemResolver, workerUrl } from "./dns-discovery.ts";

const HOST = "heavy.ringgate.svc.cluster.local";

/** A resolver whose records the test edits between resolutions. */
class FakeDns {
  records: string[] | Error = [];
  calls = 0;
  readonly resolver: Resolver = async (host) => {
    expect(host).toBe(HOST);
    this.calls += 1;
    if (this.records instanceof Error) throw this.records;
    return [...this.records];
  };
}

function setup(records: string[]) {
  const dns = new FakeDns();
  dns.records = records;
  const clock = new ManualSchedule();
  const changes: string[][] = [];
  const errors: Error[] = [];
  const discovery = new DnsDiscovery({
    host: HOST,
    port: 8000,
    resolveIntervalMs: 5_000,
    resolver: dns.resolver,
    schedule: clock.schedule,
    onChange: (urls) => changes.push(urls),
    onError: (error) => errors.push(error),
  });
  return { dns, clock, changes, errors, discovery };
}

describe("workerUrl", () => {
  test.each([
    ["10.0.0.7", "http://10.0.0.7:8000"],
    ["fd00::1", "http://[fd00::1]:8000"],
    ["::ffff:10.0.0.7", "http://[::ffff:10.0.0.7]:8000"],
  ])("%s → %s", (address, url) => {
    expect(workerUrl(address, 8000)).toBe(url);
    expect(new URL(url).port).toBe("8000");
  });
});

describe("DnsDiscovery record changes", () => {
  const scenarios: { name: string; before: string[]; after: string[] | Error; expected: string[] | "unchanged" }[] = [
    { name: "a record is added", before: ["10.0.0.1"], after: ["10.0.0.1", "10.0.0.2"], expected: ["http://10.0.0.1:8000", "http://10.0.0.2:8000"] },
    { name: "a record is removed", before: ["10.0.0.1", "10.0.0.2"], after: ["10.0.0.2"], expected: ["http://10.0.0.2:8000"] },
    { name: "a record changes address", before: ["10.0.0.1"], after: ["10.0.0.9"], expected: ["http://10.0.0.9:8000"] },
    { name: "the same set in another order", before: ["10.0.0.1", "10.0.0.2"], after: ["10.0.0.2", "10.0.0.1"], expected: "unchanged" },
    { name: "duplicates collapse", before: ["10.0.0.1"], after: ["10.0.0.1", "10.0.0.1"], expected: "unchanged" },
    { name: "an AAAA record appears", before: ["10.0.0.1"], after: ["fd00::2", "10.0.0.1"], expected: ["http://10.0.0.1:8000", "http://[fd00::2]:8000"] },
    { name: "every record disappears", before: ["10.0.0.1"], after: [], expected: [] },
    { name: "resolution fails", before: ["10.0.0.1"], after: new Error("queryA ETIMEOUT"), expected: "unchanged" },
  ];

  test.each(scenarios)("$name", async ({ before, after, expected }) => {
    const { dns, clock, changes, errors, discovery } = setup(before);
    const initial = await discovery.start();
    expect(changes).toEqual([[...initial]]);
    dns.records = after;
    clock.advanceToNext();
    await waitFor(() => dns.calls === 2 && clock.pending.length === 1, 5_000, "the second resolution to finish");
    if (expected === "unchanged") {
      expect(changes).toHaveLength(1);
      expect(discovery.urls).toEqual(initial);
    } else {
      expect(changes).toEqual([[...initial], expected]);
      expect(discovery.urls).toEqual(expected);
    }
    expect(errors).toHaveLength(after instanceof Error ? 1 : 0);
    if (after instanceof Error) expect(errors[0]?.message).toContain("ETIMEOUT");
    discovery.stop();
  });
});

describe("DnsDiscovery lifecycle", () => {
  test("schedules the next resolution only after the previous one finished, at the configured interval", async () => {
    const { clock, dns, discovery } = setup(["10.0.0.1"]);
    await discovery.start();
    expect(clock.pending.map((timer) => timer.delayMs)).toEqual([5_000]);
    clock.advanceToNext();
    expect(clock.pending).toEqual([]);
    await waitFor(() => clock.pending.length === 1, 5_000, "the next resolution to be scheduled");
    expect(dns.calls).toBe(2);
  });

  test("a failing first resolution reports, leaves the pool empty and keeps retrying", async () => {
    const { clock, dns, changes, errors, discovery } = setup([]);
    dns.records = new Error("getaddrinfo ENOTFOUND");
    expect(await discovery.start()).toEqual([]);
    expect(changes).toEqual([]);
    expect(errors).toHaveLength(1);
    dns.records = ["10.0.0.3"];
    clock.advanceToNext();
    await waitFor(() => changes.length === 1, 5_000, "the first change");
    expect(changes[0]).toEqual(["http://10.0.0.3:8000"]);
  });

  test("concurrent refreshes share one lookup", async () => {
    let release = (_records: string[]): void => {};
    let calls = 0;
    const resolver: Resolver = () => {
      calls += 1;
      return new Promise((resolve) => (release = resolve));
    };
    const changes: string[][] = [];
    const discovery = new DnsDiscovery({
      host: HOST, port: 8000, resolveIntervalMs: 1_000, resolver,
      schedule: new ManualSchedule().schedule, onChange: (urls) => changes.push(urls), onError: () => {},
    });
    const both = Promise.all([discovery.refresh(), discovery.refresh()]);
    release(["10.0.0.4"]);
    const [first, second] = await both;
    expect(calls).toBe(1);
    expect(first).toEqual(["http://10.0.0.4:8000"]);
    expect(second).toBe(first);
    expect(changes).toHaveLength(1);
  });

  test("stop cancels the timer and ignores an answer that arrives afterwards", async () => {
    const { clock, dns, changes, discovery } = setup(["10.0.0.1"]);
    await discovery.start();
    discovery.stop();
    expect(clock.pending).toEqual([]);
    expect(clock.cancelled).toBe(1);
    dns.records = ["10.0.0.2"];
    await discovery.refresh();
    expect(changes).toHaveLength(1);
    expect(dns.calls).toBe(1);
  });

  test("an onChange that throws is reported and does not stop discovery", async () => {
    const dns = new FakeDns();
    dns.records = ["10.0.0.1"];
    const clock = new ManualSchedule();
    const errors: Error[] = [];
    const discovery = new DnsDiscovery({
      host: HOST, port: 8000, resolveIntervalMs: 1_000, resolver: dns.resolver, schedule: clock.schedule,
      onChange: () => {
        throw new Error("pool rejected");
      },
      onError: (error) => errors.push(error),
    });
    await discovery.start();
    expect(errors[0]?.message).toContain("pool rejected");
    expect(clock.pending).toHaveLength(1);
  });

  test.each([
    { name: "empty host", host: "", port: 8000, resolveIntervalMs: 1 },
    { name: "port 0", host: HOST, port: 0, resolveIntervalMs: 1 },
    { name: "zero interval", host: HOST, port: 8000, resolveIntervalMs: 0 },
  ])("rejects $name", ({ host, port, resolveIntervalMs }) => {
    expect(() => new DnsDiscovery({ host, port, resolveIntervalMs, onChange: () => {}, onError: () => {} })).toThrow();
  });

  test("the system resolver and the default timer re-resolve a real name", async () => {
    const changes: string[][] = [];
    let resolutions = 0;
    const discovery = new DnsDiscovery({
      host: "localhost", port: 8123, resolveIntervalMs: 10,
      resolver: (host) => {
        resolutions += 1;
        return systemResolver(host);
      },
      onChange: (urls) => changes.push(urls),
      onError: (error) => {
        throw error;
      },
    });
    await discovery.start();
    await waitFor(() => resolutions >= 3, 5_000, "three resolutions");
    discovery.stop();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toContain("http://127.0.0.1:8123");
  });
});
