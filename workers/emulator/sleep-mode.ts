import type { IncomingMessage, ServerResponse } from "node:http";
import { errorBody, type VllmError } from "./error-wire.ts";
import { sendJson } from "./generation-session.ts";
import type { WireProfile } from "./options.ts";

/**
 * vLLM sleep mode (`--enable-sleep-mode`; on a real v0.11.0 server the routes also need
 * `VLLM_SERVER_DEV_MODE=1`): `POST /sleep?level=1|2`, `POST /wake_up`, `GET /is_sleeping`.
 *
 * v0.11.0 has no guard for generation while asleep: the request reaches an engine without weights and
 * the engine dies (vLLM issue #15483), so the answer is the engine-death JSON 500. Here the replica
 * answers the same 500 but stays up, so a test can wake it. Requests in flight when `/sleep` arrives
 * are cut (socket closed), as an engine losing its weights mid-batch would; a gateway drains first.
 * Waking takes `wakeMs`; `/is_sleeping` stays true and generation keeps failing until it is done.
 */
export class SleepMode {
  readonly #enabled: boolean;
  readonly #wakeMs: number;
  readonly #profile: WireProfile;
  readonly #inFlight = new Set<ServerResponse>();
  #asleep = false;
  #waking: Promise<void> | undefined;
  #cut = 0;

  constructor(options: { enableSleepMode: boolean; wakeMs: number; wireProfile: WireProfile }) {
    this.#enabled = options.enableSleepMode;
    this.#wakeMs = options.wakeMs;
    this.#profile = options.wireProfile;
  }

  /** Sleeping or still waking up: generation fails. */
  get sleeping(): boolean {
    return this.#asleep;
  }

  /** Generation requests cut because `/sleep` arrived while they ran. */
  get cutBySleep(): number {
    return this.#cut;
  }

  /** Answers a generation request itself (true) when asleep; otherwise tracks it until its response ends. */
  intercept(res: ServerResponse): boolean {
    if (this.#asleep) {
      sendJson(res, 500, errorBody(this.#profile, ENGINE_DEAD));
      return true;
    }
    this.#inFlight.add(res);
    res.on("close", () => this.#inFlight.delete(res));
    return false;
  }

  /** Handles the three sleep routes (true), or leaves the request alone (false) when disabled or another path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (!this.#enabled) return false;
    if (path === "/is_sleeping" && req.method === "GET") {
      sendJson(res, 200, JSON.stringify({ is_sleeping: this.#asleep }));
      return true;
    }
    if (path === "/sleep" && req.method === "POST") {
      this.#sleep(req, res);
      return true;
    }
    if (path === "/wake_up" && req.method === "POST") {
      void this.#wake().then(() => emptyOk(res));
      return true;
    }
    return false;
  }

  #sleep(req: IncomingMessage, res: ServerResponse): void {
    const level = new URL(req.url ?? "/", "http://emulator").searchParams.get("level") ?? "1";
    // vLLM does `int(level)` and sleep accepts levels 1 and 2; anything else is an unhandled exception.
    if (level !== "1" && level !== "2") {
      const error: VllmError = { message: `invalid sleep level ${level}`, type: "Internal Server Error", code: 500 };
      return sendJson(res, 500, errorBody(this.#profile, error));
    }
    this.#asleep = true;
    for (const running of this.#inFlight) {
      this.#cut++;
      running.socket?.destroy();
    }
    this.#inFlight.clear();
    emptyOk(res);
  }

  #wake(): Promise<void> {
    if (!this.#asleep) return Promise.resolve();
    this.#waking ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        this.#asleep = false;
        this.#waking = undefined;
        resolve();
      }, this.#wakeMs);
    });
    return this.#waking;
  }
}

/** What v0.11.0 answers once the engine died (FACTS corrections box, item 2). */
const ENGINE_DEAD: VllmError = {
  message: "EngineCore encountered an issue. See stack trace (above) for the root cause.",
  type: "Internal Server Error",
  code: 500,
};

/** vLLM's sleep and wake_up answer `Response(status_code=200)`: no body. */
function emptyOk(res: ServerResponse): void {
  res.writeHead(200, { server: "uvicorn", "content-length": "0" });
  res.end();
}
