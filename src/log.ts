import pino from "pino";

/** One process-wide logger; pretty only for humans at a terminal, JSON lines everywhere else. */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { service: "ringgate" },
  redact: { paths: ["headers.authorization", "authorization", "apiKey", "key"], remove: true },
  ...(process.stdout.isTTY && process.env.NODE_ENV !== "test"
    ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } }
    : {}),
});

export type Logger = typeof logger;
