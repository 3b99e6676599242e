import { afterAll, expect, test } from "bun:test";
import { startOtlpSink } from "./otlp-sink.ts";

const sink = startOtlpSink();
afterAll(() => sink.stop());

test("answers OTLP/HTTP exports with 200 and counts them; other paths are 404 and not counted", async () => {
  const body = JSON.stringify({ resourceSpans: [] });
  const headers = { "content-type": "application/json" };
  const post = (path: string) => fetch(`${sink.url}${path}`, { method: "POST", body, headers });
  const answers = [await post("/v1/traces"), await post("/v1/traces"), await post("/v1/metrics")];
  expect(answers.map((r) => r.status)).toEqual([200, 200, 404]);
  expect(await answers[0]?.json()).toEqual({});
  expect(sink.exports()).toEqual({ requests: 2, bytes: 2 * body.length });
});
