import pino from "pino";

/**
 * Log lines are buffered and written a few KB at a time: one `write(2)` per request line cost more
 * than the rest of the request log. A line waits at most `LOG_FLUSH_MS`, and everything buffered is
 * written synchronously when the process exits (signal drain, fatal error or plain exit).
 */
const LOG_FLUSH_MS = 250;
const LOG_BUFFER_BYTES = 4096;

const pretty = process.stdout.isTTY && process.env.NODE_ENV !== "test";

const destination = pretty ? undefined : pino.destination({ dest: 1, sync: true, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS });
if (destination) process.on("exit", () => destination.flushSync());

/**
 * Until the config is loaded (`applyLogLevel`), a valid `LOG_LEVEL` already applies; an invalid one is
 * left to the config loader, which reports it as one line instead of pino throwing at import.
 */
const envLevel = process.env.LOG_LEVEL;
const initialLevel = envLevel !== undefined && Object.hasOwn(pino.levels.values, envLevel) ? envLevel : "info";

/** One process-wide logger; pretty only for humans at a terminal, JSON lines everywhere else. */
export const logger = pino(
  {
    level: initialLevel,
    base: { service: "ringgate" },
    redact: { paths: ["headers.authorization", "authorization", "apiKey", "key"], remove: true },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  },
  destination,
);

export type Logger = typeof logger;

/** The loaded config's `logLevel` (from `CONFIG` or `LOG_LEVEL`, validated there) takes over. */
export function applyLogLevel(level: string): void {
  logger.level = level;
}
