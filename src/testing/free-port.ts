import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, release it).
 * Prefer `port: 0` where a server can report its own port; use this when a child process must be
 * told its port up front.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}
