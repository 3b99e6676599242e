import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";

const ACCEPTABLE_ID = /^[\w.:@\-]{1,128}$/;

/** Keeps the client's `x-request-id` when it is sane, otherwise makes one; every response carries it. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const sent = c.req.header("x-request-id");
    const id = sent && ACCEPTABLE_ID.test(sent) ? sent : crypto.randomUUID().replaceAll("-", "");
    c.set("requestId", id);
    c.set("receivedAtMs", performance.now());
    await next();
    if (!c.res.headers.has("x-request-id")) c.res.headers.set("x-request-id", id);
  };
}
