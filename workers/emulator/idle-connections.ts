import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * uvicorn's keep-alive handling: no `Keep-Alive` response header, and a connection that stays idle
 * `timeoutMs` after its last response is closed by the server. A client that reuses such a pooled
 * connection at that moment fails before any byte, which gateways must survive (vllm-wire FACTS box 6).
 * node:http's own keepAliveTimeout would advertise `Keep-Alive: timeout=…`, so it is switched off here.
 */
export function closeIdleConnections(server: Server, timeoutMs: number): void {
  server.keepAliveTimeout = 0;
  const timers = new Map<Socket, ReturnType<typeof setTimeout>>();
  const disarm = (socket: Socket): void => {
    clearTimeout(timers.get(socket));
    timers.delete(socket);
  };
  server.on("connection", (socket: Socket) => socket.once("close", () => disarm(socket)));
  server.on("request", (req, res) => {
    const socket: Socket = req.socket;
    disarm(socket);
    res.once("finish", () => {
      if (socket.destroyed) return;
      timers.set(socket, setTimeout(() => socket.destroy(), timeoutMs));
    });
  });
}
