// CPU time and memory of a process tree, read from /proc. CPU seconds per request is the fairest
// overhead figure on 2 shared cores: throughput there mostly measures who wins the scheduler.

import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The process and its descendants (nginx runs a master and a worker). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const current = pids[i];
    const children = readText(`/proc/${current}/task/${current}/children`) ?? "";
    for (const child of children.trim().split(/\s+/)) if (child !== "") pids.push(Number(child));
  }
  return pids;
}

/** utime + stime from a stat file, in ms, and the thread's name; undefined for one that is gone. */
function readStat(path: string): { name: string; cpuMs: number } | undefined {
  const stat = readText(path);
  if (stat === undefined) return undefined;
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_S };
}

/** Cumulative CPU of a process tree at one moment, by thread kind. */
export interface CpuSnapshot {
  totalMs: number;
  /** The main thread of each process: all of nginx; Bun's JS, Bun.serve and the body pipes. */
  eventLoopMs: number;
  /** Bun's fetch runs its sockets on its own "HTTP Client" thread. */
  fetchMs: number;
}

/** Where a proxy's CPU went between two snapshots, per request. */
export interface CpuSplit {
  eventLoopMs: number;
  fetchMs: number;
  /** Everything else: GC helpers, the JIT, the allocator's scavenger, threads that have exited. */
  otherMs: number;
}

export function treeCpuSnapshot(pid: number): CpuSnapshot {
  const snapshot: CpuSnapshot = { totalMs: 0, eventLoopMs: 0, fetchMs: 0 };
  for (const p of processTree(pid)) {
    // The process's own stat also counts threads that have exited.
    snapshot.totalMs += readStat(`/proc/${p}/stat`)?.cpuMs ?? 0;
    snapshot.eventLoopMs += readStat(`/proc/${p}/task/${p}/stat`)?.cpuMs ?? 0;
    for (const tid of readTaskIds(p)) {
      const thread = readStat(`/proc/${p}/task/${tid}/stat`);
      if (thread?.name === "HTTP Client") snapshot.fetchMs += thread.cpuMs;
    }
  }
  return snapshot;
}

/** CPU per request between two snapshots: the total, and how it splits by thread. */
export function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): { totalMs: number; split: CpuSplit } {
  const totalMs = after.totalMs - before.totalMs;
  const eventLoopMs = after.eventLoopMs - before.eventLoopMs;
  const fetchMs = after.fetchMs - before.fetchMs;
  // /proc counts in 10 ms ticks and the files are read one after another: with few requests the
  // remainder can come out a tick below zero.
  const otherMs = Math.max(0, totalMs - eventLoopMs - fetchMs);
  return { totalMs: totalMs / requests, split: { eventLoopMs: eventLoopMs / requests, fetchMs: fetchMs / requests, otherMs: otherMs / requests } };
}

function readTaskIds(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

function statusKb(status: string, field: "VmRSS" | "RssAnon"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** Resident memory of a process tree now, each process's status read once. */
export function treeMemoryMb(pid: number): ResidentMemory {
  const memory = { rssMb: 0, anonMb: 0 };
  for (const p of processTree(pid)) {
    const status = readText(`/proc/${p}/status`) ?? "";
    memory.rssMb += statusKb(status, "VmRSS") / 1024;
    memory.anonMb += statusKb(status, "RssAnon") / 1024;
  }
  return memory;
}

export interface ResidentMemory {
  /** Everything resident, as the targets count it. */
  rssMb: number;
  /**
   * Anonymous pages only: the heap and buffers. The rest of RSS is clean pages of the executable and
   * libraries, which the kernel can drop and re-read; for Bun that is tens of MB of its own binary.
   */
  anonMb: number;
}

/**
 * Samples resident memory during one phase. VmHWM would be the lifetime peak, which mixes phases;
 * a 50 ms VmRSS sample misses only spikes shorter than that.
 */
export class RssSampler {
  readonly #pid: number;
  #peak: ResidentMemory = { rssMb: 0, anonMb: 0 };
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(intervalMs = 50): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** The peaks so far, with a fresh sample; sampling goes on. */
  mark(): ResidentMemory {
    this.#sample();
    return { ...this.#peak };
  }

  stop(): ResidentMemory {
    clearInterval(this.#timer);
    this.#sample();
    return { ...this.#peak };
  }

  #sample(): void {
    const now = treeMemoryMb(this.#pid);
    this.#peak.rssMb = Math.max(this.#peak.rssMb, now.rssMb);
    this.#peak.anonMb = Math.max(this.#peak.anonMb, now.anonMb);
  }
}
