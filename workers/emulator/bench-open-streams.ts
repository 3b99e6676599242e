import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { spawnEmulator } from "../../src/testing/emulator-process.ts";

/**
 * Manual benchmark: hold N concurrent SSE streams open against one spawned emulator and report
 * errors (must be 0), peak running requests, throughput and the emulator's memory from /proc.
 *
 *   bun workers/emulator/bench-open-streams.ts [--streams 2000] [--tokens 50] [--itl-ms 250]
 *
 * Defaults keep every stream open ~12 s, so all of them overlap even on 2 loaded cores.
 *
 * Raw TCP clients instead of fetch: no 256-connection cap, and the client stays lighter than the
 * server it measures.
 */

interface BenchArgs {
  readonly streams: number;
  readonly tokens: number;
  readonly itlMs: number;
}

function parseArgs(argv: readonly string[]): BenchArgs {
  const value = (name: string, fallback: number): number => {
    const index = argv.indexOf(`--${name}`);
    const parsed = index < 0 ? fallback : Number(argv[index + 1]);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} expects a number`);
    return parsed;
  };
  return { streams: value("streams", 2000), tokens: value("tokens", 50), itlMs: value("itl-ms", 250) };
}

/** One stream over a raw socket; resolves with the number of content events, rejects on a broken stream. */
function openStream(port: number, body: string): Promise<number> {
  const request =
    "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\n" +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!text.startsWith("HTTP/1.1 200") || !text.includes("data: [DONE]") || !text.endsWith("0\r\n\r\n")) {
        reject(new Error(`incomplete stream: ${JSON.stringify(text.slice(0, 80))}`));
        return;
      }
      resolve(text.split('{"content":"').length - 1);
    });
  });
}

function memoryKiB(pid: number): { rssKiB: number; peakKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(/(\d+) kB/.exec(status.split("\n").find((line) => line.startsWith(name)) ?? "")?.[1] ?? NaN);
  return { rssKiB: field("VmRSS:"), peakKiB: field("VmHWM:") };
}

async function state(url: string): Promise<{ running: number }> {
  return (await (await fetch(`${url}/_emulator/state`)).json()) as { running: number };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const emulator = await spawnEmulator(["--ttft-ms", "100", "--itl-ms", String(args.itlMs), "--max-num-seqs", String(args.streams + 1)]);
  const pid = emulator.proc.pid;
  const idle = memoryKiB(pid);
  const body = JSON.stringify({
    model: "heavy",
    messages: [{ role: "user", content: "Keep talking about the tavern." }],
    stream: true,
    max_tokens: args.tokens,
    ignore_eos: true,
  });
  const startedMs = performance.now();
  let errors = 0;
  let contentEvents = 0;
  let open = 0;
  let peakOpen = 0;
  const finished = (): void => void open--;
  const streams: Promise<void>[] = [];
  for (let index = 0; index < args.streams; index++) {
    peakOpen = Math.max(peakOpen, ++open);
    const stream = openStream(emulator.port, body);
    streams.push(stream.then((count) => void (contentEvents += count), () => void errors++).finally(finished));
    // Open in bursts so the listen backlog never overflows.
    if (index % 100 === 99) await Bun.sleep(5);
  }
  let peakRunning = 0;
  const sampler = setInterval(() => {
    void state(emulator.url).then((current) => (peakRunning = Math.max(peakRunning, current.running)), () => undefined);
  }, 100);
  await Promise.all(streams);
  clearInterval(sampler);
  const elapsedS = (performance.now() - startedMs) / 1000;
  const loaded = memoryKiB(pid);
  await emulator.stop();
  console.log(
    JSON.stringify({
      streams: args.streams,
      errors,
      peakOpenStreams: peakOpen,
      peakRunning,
      contentEvents,
      expectedContentEvents: args.streams * args.tokens,
      elapsedS: Number(elapsedS.toFixed(2)),
      eventsPerS: Math.round(contentEvents / elapsedS),
      emulatorRssIdleMiB: Math.round(idle.rssKiB / 1024),
      emulatorRssAfterMiB: Math.round(loaded.rssKiB / 1024),
      emulatorRssPeakMiB: Math.round(loaded.peakKiB / 1024),
    }),
  );
  if (errors > 0) process.exitCode = 1;
}

await main();
