// CPU time and memory of a process tree, read from /proc. CPU seconds per request is the fairest
// overhead figure on 2 shared cores: throughput there mostly measures who wins the scheduler.

import { readFileSync } from "node:fs";

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

/** utime + stime of all threads, in ms; 0 for a process that is gone. */
function cpuMsOf(pid: number): number {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuMsOf(p), 0);
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readText(`/proc/${pid}/status`) ?? "";
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

export function treeRssMb(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusKb(p, "VmRSS"), 0) / 1024;
}

/**
 * Samples resident memory during one phase. VmHWM would be the lifetime peak, which mixes phases;
 * a 50 ms VmRSS sample misses only spikes shorter than that.
 */
export class RssSampler {
  readonly #pid: number;
  #peakMb = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(intervalMs = 50): void {
    this.#peakMb = treeRssMb(this.#pid);
    this.#timer = setInterval(() => {
      this.#peakMb = Math.max(this.#peakMb, treeRssMb(this.#pid));
    }, intervalMs);
  }

  stop(): number {
    clearInterval(this.#timer);
    this.#peakMb = Math.max(this.#peakMb, treeRssMb(this.#pid));
    return this.#peakMb;
  }
}
