import type { Socket } from "bun";

/** What a raw TCP exchange with the gateway produced. */
export interface RawExchange {
  /** Everything the server sent, decoded as latin1 so any byte survives. */
  text: string;
  /** The server closed the connection (rather than the client giving up). */
  closedByServer: boolean;
  elapsedMs: number;
}

export interface RawOptions {
  /** Pause between the chunks (a trickling client). */
  gapMs?: number;
  /** After the last chunk: wait at most this long for the server to answer or close. */
  waitMs?: number;
  /** Stop waiting (and hang up) as soon as this holds for what arrived so far, e.g. "headers are in". */
  until?: (received: string) => boolean;
}

/**
 * A test client below fetch: writes the chunks as given (broken framing, trickles, abrupt hang-ups),
 * then collects what the server answers. It always closes its socket before returning.
 */
export async function rawExchange(port: number, chunks: readonly (string | Uint8Array)[], options: RawOptions = {}): Promise<RawExchange> {
  const startedMs = performance.now();
  const received: Uint8Array[] = [];
  let receivedBytes = 0;
  let closedByServer = false;
  const socket: Socket<undefined> = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, data) => {
        received.push(new Uint8Array(data));
        receivedBytes += data.byteLength;
      },
      close: () => {
        closedByServer = true;
      },
      error: () => undefined,
    },
  });
  for (const chunk of chunks) {
    if (closedByServer) break;
    socket.write(chunk);
    if (options.gapMs) await Bun.sleep(options.gapMs);
  }
  const deadlineMs = performance.now() + (options.waitMs ?? 5_000);
  const text = (): string => Buffer.concat(received).toString("latin1");
  while (!closedByServer && performance.now() < deadlineMs && !(receivedBytes > 0 && options.until?.(text()))) {
    await Bun.sleep(10);
  }
  const elapsedMs = performance.now() - startedMs;
  socket.end();
  return { text: text(), closedByServer, elapsedMs };
}
