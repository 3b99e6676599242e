import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EmulatorHandle } from "../../workers/emulator/server.ts";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
import { untilFaultMet } from "../testing/fault-met.ts";
import { waitFor } from "../testing/poll.ts";
import { tracingFeature } from "./tracing-feature.ts";

/** A span as the OTLP/HTTP JSON exporter encodes it (ids in hex, times as nanosecond strings). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  events?: { name: string }[];
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

function startNs(span: OtlpSpan): bigint {
  return BigInt(span.startTimeUnixNano);
}

function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((entry) => entry.key === key)?.value ?? {};
  return Object.values(value)[0];
}

/** A tiny OTLP/HTTP receiver: keeps every span it is sent. */
function startReceiver() {
  const spans: OtlpSpan[] = [];
  const serviceNames: unknown[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (request) => {
      if (new URL(request.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      const body = (await request.json()) as OtlpExport;
      for (const resourceSpans of body.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((entry) => entry.key === "service.name");
        serviceNames.push(service?.value.stringValue);
        for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans);
      }
      return Response.json({});
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, spans, serviceNames, stop: () => server.stop(true) };
}

describe("OpenTelemetry traces over OTLP/HTTP", () => {
  let receiver: ReturnType<typeof startReceiver>;
  let harness: EmulatedGateway;
  const spansOf = (requestId: string): OtlpSpan[] => {
    const request = receiver.spans.find((span) => attribute(span, "ringgate.request_id") === requestId);
    return request ? [request, ...receiver.spans.filter((span) => span.parentSpanId === request.spanId)] : [];
  };

  beforeAll(async () => {
    receiver = startReceiver();
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "20",
      OTEL_SERVICE_NAME: "ringgate-test",
    };
    // Hedging on (it needs 4 answers of a size first): the hedge test slows one worker past the usual latency.
    const hedge = { enabled: true, afterQuantile: 0.95, minSamples: 4 };
    const features = [tracingFeature(env)];
    const pools = { heavy: 2, light: 1, cut: 2, hedged: 2 };
    harness = await startEmulatedGateway({ pools, pool: { hedge }, features });
  });
  afterAll(async () => {
    await harness.stop();
    receiver.stop();
  });

  test("one request: a request span under the client's trace, one attempt span under it, TTFT an event", async () => {
    const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
    const body = { model: "light", stream: true, messages: [{ role: "user", content: "hi" }] };
    const headers = { traceparent, "x-request-id": "traced-1" };
    const response = await harness.fixture.post("/v1/chat/completions", body, headers);
    await response.text();
    await waitFor(() => spansOf("traced-1").length === 2, 5_000, "the request's spans", 20);
    const [request, attempt] = spansOf("traced-1") as [OtlpSpan, OtlpSpan];
    expect(request).toMatchObject({ name: "ringgate.request", traceId: TRACE_ID, parentSpanId: CLIENT_SPAN });
    expect(attempt).toMatchObject({ name: "ringgate.attempt", traceId: TRACE_ID, parentSpanId: request.spanId });
    const where = [attribute(attempt, "ringgate.pool"), attribute(attempt, "ringgate.worker")];
    expect(where).toEqual(["light", harness.emulators[2]?.url]);
    expect([attribute(attempt, "ringgate.model"), attribute(attempt, "ringgate.outcome")]).toEqual(["light", "ok"]);
    expect(attempt.events?.map((event) => event.name)).toEqual(["first_token"]);
    expect(request.events?.map((event) => event.name)).toEqual(["first_token"]);
    expect(BigInt(attempt.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(request.startTimeUnixNano));
    expect(BigInt(attempt.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(request.endTimeUnixNano));
    expect(receiver.serviceNames).toContain("ringgate-test");
  });

  test("a forced failover: two attempt spans, the first failed, the second answered", async () => {
    const [first] = harness.emulators;
    let requestId = "";
    // Round robin may start on either heavy worker: arm worker 0 and send until a request meets it.
    for (let index = 0; index < 3 && requestId === ""; index++) {
      first?.setFault("status:503", 1);
      const id = `failover-${index}`;
      const body = { model: "heavy", messages: [{ role: "user", content: "hi" }] };
      const response = await harness.fixture.post("/v1/chat/completions", body, { "x-request-id": id });
      expect(response.status).toBe(200);
      if (response.headers.get("x-ringgate-attempts") === "2") requestId = id;
    }
    expect(requestId).not.toBe("");
    await waitFor(() => spansOf(requestId).length === 3, 5_000, "the failover's spans", 20);
    const attempts = spansOf(requestId).filter((span) => span.name === "ringgate.attempt");
    attempts.sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    expect(attempts.map((span) => [attribute(span, "ringgate.worker"), attribute(span, "ringgate.outcome")])).toEqual([
      [first?.url, "status_503"],
      [harness.emulators[1]?.url, "ok"],
    ]);
  });

  /** The two workers of a pool of its own (a worker that failed once may be out of its pool for a while). */
  type Two = [EmulatorHandle, EmulatorHandle];
  const twoOf = (model: "cut" | "hedged") => harness.emulators.slice(model === "cut" ? 3 : 5) as Two;

  test("a stream cut mid-answer and continued: a continuation span between the two attempts", async () => {
    const [cut, other] = twoOf("cut");
    const record = await untilFaultMet(harness, {
      armed: cut,
      fault: "cut-after:3",
      body: { model: "cut", stream: true, messages: [{ role: "user", content: "hi" }] },
      headers: { traceparent: TRACEPARENT },
      met: (each) => each.continuations !== undefined,
    });
    expect(record.continuations).toEqual(["continued"]);
    await waitFor(() => spansOf(record.requestId).length === 4, 5_000, "the continued stream's spans", 20);
    const [request, ...children] = spansOf(record.requestId) as [OtlpSpan, ...OtlpSpan[]];
    expect(request.traceId).toBe(TRACE_ID);
    const attempts = children.filter((span) => span.name === "ringgate.attempt");
    attempts.sort((a, b) => Number(startNs(a) - startNs(b)));
    const [continuation] = children.filter((span) => span.name === "ringgate.continuation") as [OtlpSpan];
    expect(continuation).toMatchObject({ traceId: TRACE_ID, parentSpanId: request.spanId });
    const attributes = ["from_worker", "to_worker", "tokens_sent", "result"].map((key) =>
      attribute(continuation, `ringgate.continuation.${key}`),
    );
    expect(attributes).toEqual([cut.url, other.url, 3, "continued"]);
    expect(attempts.map((span) => attribute(span, "ringgate.worker"))).toEqual([cut.url, other.url]);
    const [broken, continuing] = attempts as [OtlpSpan, OtlpSpan];
    // From the break (the continuing attempt's start) to the continuing stream's start, after the cut stream began.
    expect(startNs(continuation)).toBe(startNs(continuing));
    expect(startNs(continuation)).toBeGreaterThan(BigInt(broken.endTimeUnixNano));
    expect(BigInt(continuation.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(continuing.endTimeUnixNano));
    expect(BigInt(continuation.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(request.endTimeUnixNano));
  });

  test("a slowed worker's request hedged on the other: a hedge span over the hedge's attempt, won", async () => {
    const [slowed, other] = twoOf("hedged");
    const body = { model: "hedged", messages: [{ role: "user", content: "hi" }], max_tokens: 8 };
    // The pool's latency window learns the usual answer time for 8-token answers.
    for (let index = 0; index < 6; index++) await (await harness.fixture.post("/v1/chat/completions", body)).text();
    const record = await untilFaultMet(harness, {
      armed: slowed,
      fault: "slow-first-token:5000",
      body,
      headers: { traceparent: TRACEPARENT },
      met: (each) => each.attempts.some((attempt) => attempt.worker === slowed.url),
    });
    expect([record.hedge, record.worker]).toEqual(["won", other.url]);
    await waitFor(() => spansOf(record.requestId).length === 4, 5_000, "the hedged request's spans", 20);
    const [request, ...children] = spansOf(record.requestId) as [OtlpSpan, ...OtlpSpan[]];
    const [hedge] = children.filter((span) => span.name === "ringgate.hedge") as [OtlpSpan];
    expect(hedge).toMatchObject({ traceId: TRACE_ID, parentSpanId: request.spanId });
    const keys = ["ringgate.pool", "ringgate.worker", "ringgate.hedge.result"];
    const attributes = keys.map((key) => attribute(hedge, key));
    expect(attributes).toEqual(["hedged", other.url, "won"]);
    const attempts = children.filter((span) => span.name === "ringgate.attempt");
    const outcome = (span: OtlpSpan) => `${attribute(span, "ringgate.worker")} ${attribute(span, "ringgate.outcome")}`;
    const outcomes = attempts.map(outcome);
    expect(outcomes.sort()).toEqual([`${slowed.url} cancelled`, `${other.url} ok`].sort());
    const hedgeAttempt = attempts.find((span) => attribute(span, "ringgate.worker") === other.url) as OtlpSpan;
    const slowedAttempt = attempts.find((span) => attribute(span, "ringgate.worker") === slowed.url) as OtlpSpan;
    expect([hedge.startTimeUnixNano, hedge.endTimeUnixNano]).toEqual([
      hedgeAttempt.startTimeUnixNano,
      hedgeAttempt.endTimeUnixNano,
    ]);
    // Sent past the pool's usual latency, after the slowed worker's attempt began.
    expect(startNs(hedge)).toBeGreaterThan(startNs(slowedAttempt));
  });
});

describe("tracing without an endpoint", () => {
  test("loads no OpenTelemetry module and registers nothing", async () => {
    const script = `
      import { tracingFeature } from "./src/tracing/tracing-feature.ts";
      let listeners = 0;
      await tracingFeature({}).setup({ onFinish: () => listeners++, onStop: () => listeners++ });
      const loaded = Object.keys(require.cache).filter((path) => path.includes("@opentelemetry"));
      console.log(JSON.stringify({ listeners, loaded }));
    `;
    const cwd = `${import.meta.dir}/../..`;
    const child = Bun.spawn([process.execPath, "--eval", script], { cwd, stdout: "pipe", stderr: "inherit" });
    const output = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    expect(JSON.parse(output)).toEqual({ listeners: 0, loaded: [] });
  });
});
