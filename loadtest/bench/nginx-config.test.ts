import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/testing/free-port.ts";
import { startProcess, tcpOpen, type ManagedProcess } from "./managed-process.ts";
import { nginxConfig } from "./nginx-config.ts";

// The upstream sends one chunk, then holds the stream until the test has seen that chunk through
// nginx: the generated config must start and relay a stream as it is produced, or this times out.
let releaseUpstream: () => void = () => {};
let upstream: ReturnType<typeof Bun.serve>;
let nginx: ManagedProcess;
let dir: string;
let nginxUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nginx-test-"));
  upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      const held = new Promise<void>((resolve) => (releaseUpstream = resolve));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("data: first\n\n"));
          await held;
          controller.enqueue(new TextEncoder().encode("data: [DONE]\n\n"));
          controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  const port = await freePort();
  const prefixDir = join(dir, "prefix");
  mkdirSync(prefixDir);
  const upstreamPort = upstream.port ?? 0;
  writeFileSync(join(dir, "nginx.conf"), nginxConfig({ prefixDir, listenPort: port, upstreamPort, runAsRoot: process.getuid?.() === 0 }));
  nginx = await startProcess({
    name: "nginx",
    cmd: ["nginx", "-p", prefixDir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"],
    stderrPath: join(dir, "nginx.err"),
    ready: () => tcpOpen(port),
  });
  nginxUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await nginx?.stop();
  upstream?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

test("the generated nginx config starts and relays stream chunks as they come", async () => {
  const response = await fetch(`${nginxUrl}/v1/chat/completions`, { method: "POST", body: "{}", signal: AbortSignal.timeout(10_000) });
  const reader = response.body?.getReader();
  if (reader === undefined) throw new Error("no body");
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain("data: first");
  releaseUpstream();
  let rest = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
  expect(rest).toContain("[DONE]");
});
