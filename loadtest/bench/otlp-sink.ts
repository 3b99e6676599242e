// The OTLP/HTTP receiver the bench's traced gateway exports to: it reads each export and answers 200,
// as a collector would, and only counts (parsing the spans would bill the bench's own CPU instead).

export interface OtlpSink {
  url: string;
  /** Exports received on /v1/traces, and their bytes. */
  exports(): { requests: number; bytes: number };
  stop(): void;
}

export function startOtlpSink(): OtlpSink {
  let requests = 0;
  let bytes = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") {
        return new Response("not found", { status: 404 });
      }
      bytes += (await request.arrayBuffer()).byteLength;
      requests++;
      return Response.json({});
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    exports: () => ({ requests, bytes }),
    stop: () => void server.stop(true),
  };
}
