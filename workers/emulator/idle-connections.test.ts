import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { spawnEmulator, type EmulatorProcess } from "../../src/testing/emulator-process.ts";
import { waitFor } from "../../src/testing/poll.ts";

/** uvicorn-like keep-alive: no Keep-Alive header, idle connections closed after --keep-alive-timeout-s. */

let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await spawnEmulator(["--keep-alive-timeout-s", "0.5", "--speed", "50"]);
});

afterAll(async () => {
  await emulator.stop();
});

interface KeepAliveConnection {
  readonly socket: Socket;
  closed(): boolean;
  /** Sends a GET and resolves with the response head once the whole response arrived. */
  get(path: string): Promise<string>;
}

/** One keep-alive connection over a plain TCP socket. */
async function openConnection(url: string): Promise<KeepAliveConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => undefined);
  const get = (path: string) =>
    new Promise<string>((resolve) => {
      let received = "";
      const onData = (chunk: Buffer): void => {
        received += chunk.toString("utf8");
        const split = received.indexOf("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? "0");
        if (split >= 0 && Buffer.byteLength(received.slice(split + 4)) >= length) {
          socket.off("data", onData);
          resolve(received.slice(0, split));
        }
      };
      socket.on("data", onData);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n\r\n`);
    });
  return { socket, closed: () => closed, get };
}

describe("keep-alive like uvicorn", () => {
  test("no Keep-Alive response header; a busy connection is reused, an idle one is closed by the server", async () => {
    const connection = await openConnection(emulator.url);
    try {
      const first = await connection.get("/version");
      expect(first).toStartWith("HTTP/1.1 200");
      expect(first.toLowerCase()).not.toContain("keep-alive:");
      await Bun.sleep(200);
      expect(await connection.get("/health")).toStartWith("HTTP/1.1 200");
      expect(connection.closed()).toBe(false);
      await waitFor(() => connection.closed(), 5_000, "the server to close the idle connection", 20);
    } finally {
      connection.socket.destroy();
    }
  });
});
