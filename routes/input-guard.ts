import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { GatewayError } from "../src/errors/catalog.ts";
import type { AppEnv } from "./context.ts";

/** Deeper than any real request; far below where parsing or re-serialising would exhaust the stack. */
export const MAX_JSON_DEPTH = 128;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Refuses instead of substituting U+FFFD, which would forward altered text. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Checks a request body's bytes before anything parses them: invalid UTF-8 is refused, and so is JSON
 * nested deeper than `MAX_JSON_DEPTH` (100k `[` would overflow the stack when the body is re-serialised
 * for the worker). Runs after client auth, so strangers' bodies are never read; the body limit still
 * applies.
 */
export function inputGuard(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const bytes = new Uint8Array(await readBody(c.req.arrayBuffer()));
    if (jsonDepthExceeds(bytes, MAX_JSON_DEPTH)) {
      throw new GatewayError("invalid_request", `Request body nests JSON deeper than ${MAX_JSON_DEPTH} levels.`);
    }
    // Hono would otherwise rebuild the text from the bytes through a fresh Response for the route's parse.
    c.set("checkedBodyText", decodeStrict(bytes));
    return next();
  };
}

function decodeStrict(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw new GatewayError("invalid_request", "Request body is not valid UTF-8.", { cause: error });
  }
}

/** A body that cannot be read (client gone mid-upload) is the client's problem, not a 500. */
async function readBody(body: Promise<ArrayBuffer>): Promise<ArrayBuffer> {
  try {
    return await body;
  } catch (error) {
    if (error instanceof GatewayError || error instanceof HTTPException) throw error;
    throw new GatewayError("invalid_request", "The request body could not be read completely.", { cause: error });
  }
}

/**
 * Nesting deeper than `maxDepth` needs more than `maxDepth` opening brackets. Counting them is a native
 * scan, far cheaper than the exact pass (which cost three times JSON.parse on a 24 KB prompt), so only
 * bodies with that many brackets get the exact pass, which tracks strings so brackets inside them do
 * not count.
 */
export function jsonDepthExceeds(bytes: Uint8Array, maxDepth: number): boolean {
  const openers = countUpTo(bytes, OPEN_BRACE, maxDepth + 1) + countUpTo(bytes, OPEN_BRACKET, maxDepth + 1);
  if (openers <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

function countUpTo(bytes: Uint8Array, byte: number, limit: number): number {
  let count = 0;
  for (let at = bytes.indexOf(byte); at >= 0 && count < limit; at = bytes.indexOf(byte, at + 1)) count++;
  return count;
}
