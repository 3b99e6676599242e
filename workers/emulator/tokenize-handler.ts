import { z } from "zod";
import { errorBody, modelNotFound, validationError, type VllmError } from "./error-wire.ts";
import type { EmulatorOptions } from "./options.ts";
import { chatRequestSchema, pydanticMessage } from "./request-schema.ts";
import { messageText } from "./token-count.ts";
import { chatPromptIds, decodeIds, encodeText, tokenString } from "./tokenizer.ts";

/**
 * POST /tokenize and POST /detokenize as vLLM v0.11.0 answers them (`model_dump()`, every field):
 * `{count, max_model_len, tokens, token_strs}` and `{prompt}`. Tokenize takes a completion prompt
 * or chat messages (templated like a chat request); ids come from the emulator's tokenizer.
 */

export interface JsonReply {
  readonly status: number;
  readonly body: string;
}

const completionTokenizeSchema = z.looseObject({
  model: z.string().nullish(),
  prompt: z.string(),
  add_special_tokens: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});

const chatTokenizeSchema = chatRequestSchema.pick({ model: true, messages: true, tools: true }).extend({
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});

const detokenizeSchema = z.looseObject({ model: z.string().nullish(), tokens: z.array(z.number().int()) });

const JSON_DECODE_ERROR = "[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', 'input': {}}]";

export function handleTokenize(options: EmulatorOptions, text: string): JsonReply {
  const body = parseJson(text);
  if (body === undefined) return errorReply(options, validationError(JSON_DECODE_ERROR));
  const isChat = body !== null && typeof body === "object" && "messages" in body;
  const parsed = isChat ? chatTokens(body) : completionTokens(body);
  if ("issues" in parsed) return errorReply(options, validationError(pydanticMessage(parsed.issues, body)));
  const missing = wrongModel(options, parsed.model);
  if (missing) return errorReply(options, missing);
  const { tokens } = parsed;
  const tokenStrs = parsed.returnTokenStrs ? tokens.map(tokenString) : null;
  return ok({ count: tokens.length, max_model_len: options.maxModelLen, tokens, token_strs: tokenStrs });
}

export function handleDetokenize(options: EmulatorOptions, text: string): JsonReply {
  const body = parseJson(text);
  if (body === undefined) return errorReply(options, validationError(JSON_DECODE_ERROR));
  const parsed = detokenizeSchema.safeParse(body);
  if (!parsed.success) return errorReply(options, validationError(pydanticMessage(parsed.error.issues, body)));
  const missing = wrongModel(options, parsed.data.model);
  if (missing) return errorReply(options, missing);
  return ok({ prompt: decodeIds(parsed.data.tokens) });
}

interface Tokenized {
  readonly model: string | null | undefined;
  readonly tokens: number[];
  readonly returnTokenStrs: boolean;
}

type Parsed = Tokenized | { readonly issues: readonly z.core.$ZodIssue[] };

function chatTokens(body: unknown): Parsed {
  const parsed = chatTokenizeSchema.safeParse(body);
  if (!parsed.success) return { issues: parsed.error.issues };
  const request = parsed.data;
  const tokens = chatPromptIds(request.messages, request.tools, endingOf(request), messageText);
  return { model: request.model, tokens, returnTokenStrs: request.return_token_strs === true };
}

function completionTokens(body: unknown): Parsed {
  const parsed = completionTokenizeSchema.safeParse(body);
  if (!parsed.success) return { issues: parsed.error.issues };
  const request = parsed.data;
  const tokens = encodeText(request.prompt);
  return { model: request.model, tokens, returnTokenStrs: request.return_token_strs === true };
}

function endingOf(request: { add_generation_prompt?: boolean | null; continue_final_message?: boolean | null }) {
  const continueFinalMessage = request.continue_final_message === true;
  const addGenerationPrompt = request.add_generation_prompt !== false && !continueFinalMessage;
  return { addGenerationPrompt, continueFinalMessage };
}

function wrongModel(options: EmulatorOptions, model: string | null | undefined): VllmError | undefined {
  return model && model !== options.servedModelName ? modelNotFound(model) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function ok(value: unknown): JsonReply {
  return { status: 200, body: JSON.stringify(value) };
}

function errorReply(options: EmulatorOptions, error: VllmError): JsonReply {
  return { status: error.code, body: errorBody(options.wireProfile, error) };
}
