import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * Test harness: Debian's `chromium` in headless mode, allowed to reach loopback only. Every host name
 * resolves to nothing (except 127.0.0.1) and every proxied request goes to a closed port, so a page
 * that needs the internet shows it by failing to render.
 */
export interface HeadlessOptions {
  /** Virtual time the page may run (timers, fetches) before the DOM is dumped or the shot taken. */
  virtualTimeMs?: number;
  windowSize?: readonly [number, number];
  timeoutMs?: number;
}

const CHROMIUM = "chromium";

async function run(url: string, action: string[], options: HeadlessOptions): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "ringgate-chromium-"));
  const deadProxy = `http://127.0.0.1:${await freePort()}`;
  const [width, height] = options.windowSize ?? [1400, 1000];
  const child = Bun.spawn(
    [
      CHROMIUM,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      `--proxy-server=${deadProxy}`,
      "--proxy-bypass-list=127.0.0.1",
      `--window-size=${width},${height}`,
      `--virtual-time-budget=${options.virtualTimeMs ?? 4_000}`,
      ...action,
      url,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${stderr.slice(-2_000)}`);
    return stdout;
  } finally {
    clearTimeout(timer);
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM after its scripts ran, as HTML. */
export function dumpDom(url: string, options: HeadlessOptions = {}): Promise<string> {
  return run(url, ["--dump-dom"], options);
}

/** Writes a PNG of the page to `path`. */
export async function screenshot(url: string, path: string, options: HeadlessOptions = {}): Promise<void> {
  await run(url, [`--screenshot=${path}`], options);
  if (!(await Bun.file(path).exists())) throw new Error(`chromium wrote no screenshot at ${path}`);
}
