import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../src/testing/free-port.ts";
import { type ComposeFile, type Env, flagValue, REPO_ROOT, workerServices } from "./compose-model.ts";
import { imageCmd, imageEnv } from "./dockerfile-model.ts";

/**
 * A compose topology without Docker: every service runs as a local process with the command and
 * environment compose would give it; only host names and ports are rewritten, because `heavy-0`
 * and friends do not resolve here.
 */

const STARTUP_DEADLINE_MS = 15_000;

interface Launch {
  cmd: string[];
  env: Env;
  /** True once the service answers (its compose health check's meaning). */
  ready: () => Promise<boolean>;
}

interface Service {
  launch: Launch;
  process: Bun.Subprocess<"ignore", "ignore", "pipe">;
  stderr: string;
}

export async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs = STARTUP_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

export class LocalStack {
  #compose: ComposeFile;
  readonly #services = new Map<string, Service>();
  /** compose address (`http://heavy-0:8000`, `redis://redis:6379`) → local address. */
  readonly #addresses = new Map<string, string>();
  #gatewayUrl = "";
  #redisDir: string | undefined;
  readonly #scratch = mkdtempSync(join(tmpdir(), "ringgate-stack-"));

  private constructor(compose: ComposeFile) {
    this.#compose = compose;
  }

  /** Redis, then all workers in parallel, then the gateway, each once it answers. */
  static async start(compose: ComposeFile): Promise<LocalStack> {
    const stack = new LocalStack(compose);
    try {
      await stack.#startRedis();
      await Promise.all(workerServices(compose).map(([name, service]) => stack.#startWorker(name, service.command)));
      await stack.#startGateway();
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  get gatewayUrl(): string {
    return this.#gatewayUrl;
  }

  /** The local URL standing in for a compose address such as `http://heavy-0:8000`. */
  local(composeAddress: string): string {
    const url = this.#addresses.get(composeAddress);
    if (url === undefined) throw new Error(`no local process for ${composeAddress}`);
    return url;
  }

  /** POST /v1/chat/completions through the gateway with a short user message. */
  chat(model: string, extra: Record<string, unknown> = {}): Promise<Response> {
    return fetch(`${this.#gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "Where is the harbour master?" }], max_tokens: 16, ...extra }),
    });
  }

  stderr(): Map<string, string> {
    return new Map([...this.#services].map(([name, service]) => [name, service.stderr]));
  }

  /** Like `docker kill -s <signal>`: resolves with the exit code once the process is gone. */
  kill(service: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number> {
    const child = this.#services.get(service)?.process;
    if (!child) throw new Error(`no service ${service}`);
    child.kill(signal);
    return child.exited;
  }

  /** Like `docker-compose start` after a stop or kill: same command, port and data directory. */
  async restart(service: string): Promise<void> {
    const launch = this.#services.get(service)?.launch;
    if (!launch) throw new Error(`no service ${service}`);
    await this.#run(service, launch);
  }

  /**
   * Like `docker-compose -f base -f override up -d <worker>`: stops the worker (SIGTERM, as compose's
   * recreate does) and starts it with `command` on the same address.
   */
  async replaceWorker(name: string, command: string[]): Promise<void> {
    const url = this.local(`http://${name}:${flagValue(command, "--port")}`);
    await this.#terminate(name);
    await this.#startWorker(name, command, Number(new URL(url).port));
  }

  /** Like `up -d gateway` after its service changed: SIGTERM (it drains), then the new one on the same port. */
  async recreateGateway(compose: ComposeFile): Promise<void> {
    this.#compose = compose;
    await this.#terminate("gateway");
    await this.#startGateway(Number(new URL(this.#gatewayUrl).port));
  }

  async #terminate(name: string): Promise<void> {
    const child = this.#services.get(name)?.process;
    if (!child) throw new Error(`no service ${name}`);
    child.kill("SIGTERM");
    await child.exited;
  }

  /** SIGTERM everything, SIGKILL what is still alive after 5 s. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.#services.values()].map(async ({ process: child }) => {
        child.kill("SIGTERM");
        const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
        if (!exited) child.kill("SIGKILL");
      }),
    );
    if (this.#redisDir) rmSync(this.#redisDir, { recursive: true, force: true });
    rmSync(this.#scratch, { recursive: true, force: true });
  }

  async #run(name: string, launch: Launch): Promise<void> {
    const child = Bun.spawn(launch.cmd, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...launch.env }, stdout: "ignore", stderr: "pipe" });
    const service: Service = { launch, process: child, stderr: this.#services.get(name)?.stderr ?? "" };
    this.#services.set(name, service);
    void (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) service.stderr += chunk;
    })();
    await pollUntil(name, launch.ready);
  }

  /** A worker service's command verbatim except --host/--port. */
  async #startWorker(name: string, command: string[], reusedPort?: number): Promise<void> {
    if (command[0] !== "bun") throw new Error(`${name}: only bun commands run locally, got ${command[0]}`);
    const port = reusedPort ?? (await freePort());
    const args = command.map((arg, index) => {
      if (command[index - 1] === "--host") return "127.0.0.1";
      if (command[index - 1] === "--port") return String(port);
      return arg;
    });
    const url = `http://127.0.0.1:${port}`;
    this.#addresses.set(`http://${name}:${flagValue(command, "--port")}`, url);
    await this.#run(name, { cmd: [process.execPath, ...args.slice(1)], env: {}, ready: async () => (await fetch(`${url}/health`)).ok });
  }

  /** Redis with the compose service's own arguments, in a scratch directory. */
  async #startRedis(): Promise<void> {
    const command = this.#compose.services.redis?.command ?? [];
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "ringgate-redis-"));
    this.#redisDir = dir;
    this.#addresses.set("redis://redis:6379", `redis://127.0.0.1:${port}`);
    const ready = async () => (await Bun.$`redis-cli -p ${port} ping`.quiet().nothrow()).stdout.toString().trim() === "PONG";
    await this.#run("redis", { cmd: [...command, "--port", String(port), "--dir", dir, "--save", ""], env: {}, ready });
  }

  /** The image's CMD with the service environment layered over the image's ENV, as compose does. */
  async #startGateway(reusedPort?: number): Promise<void> {
    const command = imageCmd();
    if (command[0] !== "bun") throw new Error(`gateway: expected a bun CMD, got ${command.join(" ")}`);
    const port = reusedPort ?? (await freePort());
    this.#gatewayUrl = `http://127.0.0.1:${port}`;
    const env = { ...imageEnv(), ...this.#gatewayEnv(), HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" };
    const ready = async () => (await fetch(`${this.#gatewayUrl}/health`)).ok;
    await this.#run("gateway", { cmd: [process.execPath, ...command.slice(1)], env, ready });
  }

  /** The gateway service's environment with addresses made local, in it and in the mounted config. */
  #gatewayEnv(): Env {
    const service = this.#compose.services.gateway;
    const rewrite = (value: string) => value.split(",").map((url) => this.#addresses.get(url) ?? url).join(",");
    const env: Env = Object.fromEntries(Object.entries(service?.environment ?? {}).map(([key, value]) => [key, rewrite(value)]));
    const mount = service?.volumes?.find((volume) => volume.split(":")[1] === env.CONFIG);
    const config = readFileSync(resolve(REPO_ROOT, mount?.split(":")[0] ?? "missing-config-mount"), "utf8");
    env.CONFIG = join(this.#scratch, "gateway.config.json");
    writeFileSync(env.CONFIG, [...this.#addresses].reduce((text, [from, to]) => text.replaceAll(from, to), config));
    return env;
  }
}
