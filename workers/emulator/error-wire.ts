import type { WireProfile } from "./options.ts";
import { pyJsonDumps, type JsonValue } from "./python-format.ts";

/** vLLM error bodies per wire profile: nested envelope (v0.10.1+) or the older flat shape. */

export interface VllmError {
  readonly message: string;
  readonly type: string;
  readonly code: number;
  readonly param?: string | null;
}

export function errorBody(profile: WireProfile, error: VllmError): string {
  const param = error.param ?? null;
  if (profile === "legacy") {
    return JSON.stringify({ object: "error", message: error.message, type: error.type, param, code: error.code });
  }
  return JSON.stringify({ error: { message: error.message, type: error.type, param, code: error.code } });
}

/** In-band stream error: Python `json.dumps` spacing, as vLLM builds it after the 200 went out. */
export function inbandErrorEvent(profile: WireProfile, error: VllmError): string {
  const param = error.param ?? null;
  const inner: JsonValue =
    profile === "legacy"
      ? { object: "error", message: error.message, type: error.type, param, code: error.code }
      : { message: error.message, type: error.type, param, code: error.code };
  return `data: ${pyJsonDumps({ error: inner })}\n\n`;
}

export function badRequest(message: string, param: string | null = null): VllmError {
  return { message, type: "BadRequestError", code: 400, param };
}

export function modelNotFound(model: string): VllmError {
  return { message: `The model \`${model}\` does not exist.`, type: "NotFoundError", code: 404 };
}

/** FastAPI validation failures are remapped to 400 with the HTTP reason phrase as type. */
export function validationError(message: string): VllmError {
  return { message, type: "Bad Request", code: 400 };
}

const ENGINE_DEAD_MESSAGE = "EngineCore encountered an issue. See stack trace (above) for the root cause.";

/**
 * What a dead engine answers new and in-flight non-stream requests (PR #22957, v0.10.2+): a JSON 500
 * typed with the HTTP reason phrase. Undefined for `legacy`, which sent an empty-body 500.
 */
export function engineDeadError(profile: WireProfile): VllmError | undefined {
  return profile === "legacy" ? undefined : { message: ENGINE_DEAD_MESSAGE, type: "Internal Server Error", code: 500 };
}

/** The in-band event of a stream cut by engine death: v0.11's catch-all defaults (400), 500 in `current`. */
export function engineCrash(profile: WireProfile): VllmError {
  const message = ENGINE_DEAD_MESSAGE;
  return profile === "current"
    ? { message, type: "InternalServerError", code: 500 }
    : { message, type: "BadRequestError", code: 400 };
}

/** The two context-length errors (plus the pre-v0.10.2 wording in the legacy profile). */
export function contextLengthError(
  profile: WireProfile,
  maxModelLen: number,
  promptTokens: number,
  maxTokens: number | undefined,
): VllmError | undefined {
  const requested = promptTokens + (maxTokens ?? 0);
  if (profile === "legacy") {
    if (promptTokens < maxModelLen && requested <= maxModelLen) return undefined;
    return badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${requested} tokens ` +
        `(${promptTokens} in the messages, ${maxTokens ?? 0} in the completion). ` +
        "Please reduce the length of the messages or completion.",
    );
  }
  const suffix = profile === "current" ? "" : " None";
  if (promptTokens >= maxModelLen) {
    return badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} ` +
        `input tokens. Please reduce the length of the input messages.${suffix}`,
    );
  }
  if (maxTokens === undefined || requested <= maxModelLen) return undefined;
  const base =
    `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ` +
    `${maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxModelLen} - ${promptTokens}).`;
  return profile === "current"
    ? badRequest(`${base} (parameter=max_tokens, value=${maxTokens})`, "max_tokens")
    : badRequest(`${base}${suffix}`);
}
