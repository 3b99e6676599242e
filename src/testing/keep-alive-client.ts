import type { Socket } from "bun";

export interface KeepAliveAnswer {
  status: number;
  /** Header names lower-cased. */
  headers: Map<string, string>;
  body: string;
}

interface Pending {
  resolve(answer: KeepAliveAnswer): void;
  reject(error: Error): void;
}

/**
 * One HTTP/1.1 keep-alive connection carrying requests one after another. fetch pools and re-opens
 * connections at will; this one stays on the socket it opened, so a test knows which server thread
 * (with reusePort) answered every request on it. Handles Content-Length and chunked answers.
 */
export class KeepAliveConnection {
  readonly #socket: Socket<undefined>;
  #received = "";
  #pending: Pending | undefined;
  #closed = false;

  private constructor(socket: Socket<undefined>) {
    this.#socket = socket;
  }

  static async open(port: number, hostname = "127.0.0.1"): Promise<KeepAliveConnection> {
    // The socket's handlers exist before the connection object does; they are pointed at it below.
    const events = { onData: (_chunk: Buffer): void => undefined, onClose: (): void => undefined };
    const socket = await Bun.connect({
      hostname,
      port,
      socket: {
        data: (_socket, chunk) => events.onData(chunk),
        close: () => events.onClose(),
        error: () => events.onClose(),
      },
    });
    const connection = new KeepAliveConnection(socket);
    events.onData = (chunk) => connection.#onData(chunk);
    events.onClose = () => connection.#onClose();
    return connection;
  }

  /** Sends one request and resolves with its answer; rejects if the connection ends first. */
  request(method: string, path: string, body?: unknown): Promise<KeepAliveAnswer> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    const payload = body === undefined ? "" : JSON.stringify(body);
    const head = [`${method} ${path} HTTP/1.1`, "Host: gateway", `Content-Length: ${Buffer.byteLength(payload)}`];
    if (body !== undefined) head.push("Content-Type: application/json");
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(`${head.join("\r\n")}\r\n\r\n${payload}`);
    });
  }

  close(): void {
    this.#socket.end();
  }

  #onData(chunk: Buffer): void {
    this.#received += chunk.toString("latin1");
    const answer = parseAnswer(this.#received);
    if (!answer || !this.#pending) return;
    this.#received = this.#received.slice(answer.length);
    const pending = this.#pending;
    this.#pending = undefined;
    pending.resolve(answer.answer);
  }

  #onClose(): void {
    this.#closed = true;
    this.#pending?.reject(new Error("connection closed before the answer"));
    this.#pending = undefined;
  }
}

/** A whole answer at the start of `text` and how many characters it took, or undefined while incomplete. */
function parseAnswer(text: string): { answer: KeepAliveAnswer; length: number } | undefined {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const [statusLine = "", ...lines] = text.slice(0, headEnd).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const status = Number(statusLine.split(" ")[1]);
  const bodyStart = headEnd + 4;
  if (headers.get("transfer-encoding")?.includes("chunked")) {
    const end = text.indexOf("\r\n0\r\n\r\n", bodyStart - 2);
    if (end < 0) return undefined;
    return { answer: { status, headers, body: text.slice(bodyStart, end) }, length: end + 7 };
  }
  const length = Number(headers.get("content-length") ?? 0);
  if (text.length < bodyStart + length) return undefined;
  return { answer: { status, headers, body: text.slice(bodyStart, bodyStart + length) }, length: bodyStart + length };
}
