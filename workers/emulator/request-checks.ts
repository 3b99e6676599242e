import { badRequest, validationError, type VllmError } from "./error-wire.ts";
import { pyFloatRepr } from "./python-format.ts";
import { modelValidatorMessage, type ChatRequest, type SamplingRequest } from "./request-schema.ts";

/**
 * vLLM v0.11.0's request checks beyond types: the pydantic model validators of
 * `ChatCompletionRequest` (400 "Bad Request", pydantic text) and `SamplingParams._verify_args`
 * (400 "BadRequestError", raised while building sampling params).
 */

const MAX_N = 128;
const MAX_N_HINT = "To increase this limit, set the VLLM_MAX_N_SEQUENCES environment variable.";
const EMPTY_PROMPT_MESSAGE = "Either prompt or prompt_embeds must be provided and non-empty.";
const STREAM_OPTIONS_MESSAGE = "Stream options can only be defined when `stream=True`.";

export function chatValidatorProblem(request: ChatRequest, body: unknown): VllmError | undefined {
  const message = chatValidatorMessage(request);
  return message === undefined ? undefined : validationError(modelValidatorMessage(message, body));
}

function chatValidatorMessage(request: ChatRequest): string | undefined {
  if (request.stream_options && request.stream !== true) return STREAM_OPTIONS_MESSAGE;
  const top = request.top_logprobs;
  if (top !== null && top !== undefined) {
    if (top < 0) return "`top_logprobs` must be a positive value.";
    if (top > 0 && request.logprobs !== true) return "when using `top_logprobs`, `logprobs` must be set to true.";
  }
  const choice = request.tool_choice;
  if (choice !== null && choice !== undefined && choice !== "none") {
    if (!request.tools) return "When using `tool_choice`, `tools` must be set.";
    if (typeof choice === "object" && !request.tools.some((tool) => tool.function.name === choice.function.name)) {
      return "The tool specified in `tool_choice` does not match any of the specified `tools`";
    }
  }
  if (request.continue_final_message === true && request.add_generation_prompt !== false) {
    return "Cannot set both `continue_final_message` and `add_generation_prompt` to True.";
  }
  return undefined;
}

/** Completions share the stream_options validator; `logprobs` there is a count. */
export function completionValidatorProblem(
  request: SamplingRequest & { logprobs?: number | null; prompt: string | readonly unknown[] },
  body: unknown,
): VllmError | undefined {
  if (request.stream_options && request.stream !== true) {
    return validationError(modelValidatorMessage(STREAM_OPTIONS_MESSAGE, body));
  }
  if (request.prompt.length === 0) {
    return validationError(modelValidatorMessage(EMPTY_PROMPT_MESSAGE, body));
  }
  if (typeof request.logprobs === "number" && request.logprobs < 0) {
    return validationError(modelValidatorMessage("`logprobs` must be a positive value.", body));
  }
  return undefined;
}

/** `SamplingParams._verify_args` in v0.11.0 order; floats print as Python does (`-1.0`). */
export function samplingProblem(request: SamplingRequest): VllmError | undefined {
  const message = samplingMessage(request);
  return message === undefined ? undefined : badRequest(message);
}

function samplingMessage(request: SamplingRequest): string | undefined {
  const n = request.n ?? 1;
  if (n < 1) return `n must be at least 1, got ${n}.`;
  // The emulator's own guard (newer vLLM has the same check and text): a huge n would exhaust its memory.
  if (n > MAX_N) {
    return `n must be at most ${MAX_N}, got ${n}. ${MAX_N_HINT}`;
  }
  const presence = request.presence_penalty ?? 0;
  if (presence < -2 || presence > 2) return `presence_penalty must be in [-2, 2], got ${pyFloatRepr(presence)}.`;
  const frequency = request.frequency_penalty ?? 0;
  if (frequency < -2 || frequency > 2) return `frequency_penalty must be in [-2, 2], got ${pyFloatRepr(frequency)}.`;
  const repetition = request.repetition_penalty ?? 1;
  if (repetition <= 0) return `repetition_penalty must be greater than zero, got ${pyFloatRepr(repetition)}.`;
  const temperature = request.temperature ?? 1;
  if (temperature < 0) return `temperature must be non-negative, got ${pyFloatRepr(temperature)}.`;
  const topP = request.top_p ?? 1;
  if (!(topP > 0 && topP <= 1)) return `top_p must be in (0, 1], got ${pyFloatRepr(topP)}.`;
  const topK = request.top_k ?? 0;
  if (topK < -1) return `top_k must be 0 (disable), or at least 1, got ${topK}.`;
  const minP = request.min_p ?? 0;
  if (minP < 0 || minP > 1) return `min_p must be in [0, 1], got ${pyFloatRepr(minP)}.`;
  const stops = typeof request.stop === "string" ? [request.stop] : (request.stop ?? []);
  if (stops.some((stop) => stop === "")) return "stop cannot contain an empty string.";
  if (temperature < 1e-5 && n > 1) return `n must be 1 when using greedy sampling, got ${n}.`;
  return undefined;
}

export function stopStrings(request: SamplingRequest): string[] {
  if (typeof request.stop === "string") return [request.stop];
  return [...(request.stop ?? [])];
}
