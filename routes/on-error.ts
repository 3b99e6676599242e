import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { GatewayError } from "../src/errors/catalog.ts";
import type { AppEnv } from "./context.ts";

/**
 * The single place where anything thrown while handling a request becomes an HTTP answer in the
 * OpenAI envelope. Unknown exceptions are logged by the caller and become a generic 500 that leaks
 * nothing internal.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof HTTPException) {
    if (error.status === 413) return new GatewayError("payload_too_large", "Request body is larger than the gateway's limit.");
    if (error.status === 400) return new GatewayError("invalid_request", `Malformed request: ${error.message || "invalid JSON body"}.`);
    if (error.status === 401) return new GatewayError("unauthorized", error.message || "Unauthorized.");
    if (error.status === 415) return new GatewayError("unsupported_media_type", "Content-Type must be application/json.");
  }
  return new GatewayError("internal_error", "The gateway hit an unexpected error; it has been logged.");
}

export function errorResponse(c: Context<AppEnv>, error: GatewayError): Response {
  return error.toResponse({ "x-request-id": c.get("requestId") ?? "" });
}
