import { connect } from "node:net";

/**
 * One HTTP/1.1 request over a plain TCP socket, returning every byte the server sent until it
 * closed. Unlike fetch, nothing received before an abrupt close is thrown away, so tests can
 * assert exactly where a faulty stream stopped.
 */
export interface RawExchange {
  readonly head: string;
  /** Body bytes as sent (chunked framing included). */
  readonly body: string;
  /** True when the chunked body ended with its terminating `0\r\n\r\n`. */
  readonly complete: boolean;
}

export function rawPost(url: string, path: string, body: string, headers: Record<string, string> = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  const headerLines = Object.entries({ host: `${hostname}:${port}`, "content-type": "application/json", connection: "close", ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  const request = `POST ${path} HTTP/1.1\r\n${headerLines}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const responseBody = split < 0 ? "" : text.slice(split + 4);
      resolve({ head: split < 0 ? text : text.slice(0, split), body: responseBody, complete: responseBody.endsWith("0\r\n\r\n") });
    });
  });
}
