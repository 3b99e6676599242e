import { expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { FailureKind, ProgressMark, WorkerFeedback } from "../health/worker-feedback.ts";
import { Pools } from "../pool/pools.ts";
import type { RequestRecord } from "../proxy/request-record.ts";
import { waitFor } from "../testing/poll.ts";
import { applyThreadReport, type ThreadReport, ThreadReporter } from "./thread-report.ts";

const config = parseConfig({ pools: { heavy: { workers: ["http://a:1", "http://b:1"] } } });

/** The owner's side as the report reaches it: what health was told, per worker URL. */
function owner() {
  const pools = new Pools(config);
  const told: string[] = [];
  const marks = new Map<string, ProgressMark>();
  const feedback: WorkerFeedback = {
    success: (worker) => told.push(`${worker.url} success`),
    failure: (worker, kind: FailureKind) => told.push(`${worker.url} ${kind}`),
    progressMark: (worker) => {
      let mark = marks.get(worker.url);
      if (!mark) marks.set(worker.url, (mark = { atMs: 0 }));
      return mark;
    },
  };
  const records: RequestRecord[] = [];
  return { pools, told, marks, feedback, records, record: (record: RequestRecord) => records.push(record) };
}

test("records and worker feedback reach the owner in one batch; a worker gone meanwhile is skipped", () => {
  const reports: ThreadReport[] = [];
  const reporter = new ThreadReporter((report) => reports.push(report));
  const thread = new Pools(config, owner().pools.share());
  const [a, b] = thread.get("heavy")?.workers() ?? [];
  const feedback = reporter.feedback();
  if (!a || !b) throw new Error("two workers expected");
  feedback.success(a);
  feedback.failure(b, "status_5xx");
  feedback.failure({ pool: "heavy", url: "http://gone:1", slot: 7 }, "connect");
  reporter.record({ requestId: "r1" } as RequestRecord);
  reporter.flush();
  expect(reports).toHaveLength(1);
  const target = owner();
  applyThreadReport(reports[0] as ThreadReport, target);
  expect(target.told).toEqual(["http://a:1 success", "http://b:1 status_5xx"]);
  expect(target.records.map((record) => record.requestId)).toEqual(["r1"]);
});

test("a worker's progress on a thread reaches the owner's mark, which the frozen check reads", async () => {
  const reports: ThreadReport[] = [];
  const reporter = new ThreadReporter((report) => reports.push(report));
  const worker = new Pools(config).get("heavy")?.worker("http://b:1");
  if (!worker) throw new Error("worker expected");
  const mark = reporter.feedback().progressMark(worker);
  mark.atMs = performance.now();
  await waitFor(() => reports.some((report) => report.progress.length > 0), 2_000, "a progress report", 10);
  const target = owner();
  for (const report of reports) applyThreadReport(report, target);
  expect(target.marks.get("http://b:1")?.atMs).toBeCloseTo(mark.atMs, 3);
  expect(target.marks.has("http://a:1")).toBe(false);
});
