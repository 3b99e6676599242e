import { readSse } from "./sse-transcript.ts";

/**
 * Test harness: clients looping POST /v1/chat/completions (model `heavy` unless told) until stopped,
 * alternating streams and non-stream requests, each tagged with the phase current when it was sent.
 * A request counts ok only with status 200 and, for a stream, every event through [DONE]. A connection
 * that fails before any answer (a restarting gateway refuses it) is retried, as the openai SDK does, and
 * counted in `retried`; anything after an answer began is a failure.
 */

export interface Sent {
  phase: string;
  /** The x-session-id sent ("" without sessions). */
  session: string;
  pool: string;
  worker: string;
  ok: boolean;
  detail: string;
  retried: number;
}

export interface SteadyLoadOptions {
  clients?: number;
  model?: string;
  /** Session keys per client, cycled (x-session-id); none when unset. */
  sessions?: number;
}

const CONNECT_RETRIES = 50;
const RETRY_PAUSE_MS = 100;

export function steadyLoad(
  gatewayUrl: string,
  phase: () => string,
  options: SteadyLoadOptions = {},
): { stop(): Promise<Sent[]> } {
  const sent: Sent[] = [];
  let running = true;
  const client = async (id: number): Promise<void> => {
    for (let n = 0; running; n++) {
      const session = options.sessions ? `npc-${id}-${n % options.sessions}` : "";
      const tag = phase();
      const stream = (id + n) % 2 === 0;
      const body = {
        model: options.model ?? "heavy",
        messages: [{ role: "user", content: `c${id} n${n}` }],
        max_tokens: 12,
        stream,
      };
      const { response, retried } = await postRetryingConnects(gatewayUrl, body, session);
      sent.push({
        phase: tag,
        session,
        pool: response.headers.get("x-ringgate-pool") ?? "",
        worker: response.headers.get("x-ringgate-worker") ?? "",
        retried,
        ...(await outcome(response, stream)),
      });
    }
  };
  const clients = Array.from({ length: options.clients ?? 6 }, (_, id) => client(id));
  return {
    stop: async () => {
      running = false;
      await Promise.all(clients);
      return sent;
    },
  };
}

async function postRetryingConnects(
  gatewayUrl: string,
  body: unknown,
  session: string,
): Promise<{ response: Response; retried: number }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (session) headers["x-session-id"] = session;
  for (let retried = 0; ; retried++) {
    try {
      const init = { method: "POST", headers, body: JSON.stringify(body) };
      return { response: await fetch(`${gatewayUrl}/v1/chat/completions`, init), retried };
    } catch (error) {
      if (retried >= CONNECT_RETRIES) throw error;
      await Bun.sleep(RETRY_PAUSE_MS);
    }
  }
}

async function outcome(response: Response, stream: boolean): Promise<{ ok: boolean; detail: string }> {
  if (!stream || response.status !== 200) {
    const text = await response.text();
    return { ok: response.status === 200, detail: response.status === 200 ? "" : `${response.status} ${text}` };
  }
  const transcript = await readSse(response);
  const ok = transcript.done && transcript.error === undefined && transcript.broken === undefined;
  return { ok, detail: ok ? "" : `${JSON.stringify(transcript.error)} ${transcript.broken ?? ""}` };
}
