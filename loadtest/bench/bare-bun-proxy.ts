// The least a Bun proxy can do: Bun.serve in, fetch out, body streamed through untouched. Its CPU
// per request is the floor for any gateway written on Bun, which tells how much of ringgate's
// overhead is the runtime and how much its own features.
//
// usage: BUN_CONFIG_MAX_HTTP_REQUESTS=16384 bun bare-bun-proxy.ts LISTEN_PORT UPSTREAM_URL

const [port, upstream] = process.argv.slice(2);
if (port === undefined || upstream === undefined) throw new Error("usage: bare-bun-proxy.ts LISTEN_PORT UPSTREAM_URL");

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(port),
  // Bun closes idle connections after 10 s by default; slow streams can be quiet longer.
  idleTimeout: 120,
  async fetch(request) {
    const url = new URL(request.url);
    const response = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return new Response(response.body, { status: response.status, headers: response.headers });
  },
});
