import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EmulatedGateway, startEmulatedGateway } from "../testing/emulated-gateway.ts";
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
    harness = await startEmulatedGateway({ pools: { heavy: 2, light: 1 }, features: [tracingFeature(env)] });
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
