import { jsonString } from "./json-string.ts";

/**
 * Deterministic log-probabilities for generated tokens, in vLLM's two wire shapes: chat
 * (`{"content":[{token,logprob,bytes,top_logprobs}]}`) and the legacy completions object
 * (`{text_offset,token_logprobs,tokens,top_logprobs}`). The sampled token is listed first among
 * the alternatives, as vLLM V1 returns it ahead of the top-k.
 */

const ALTERNATIVES = [" the", " a", ",", ".", " and", " of", " to", " you", " we", "!"] as const;

export interface TokenLogprob {
  readonly token: string;
  readonly logprob: number;
  /** `count` most likely tokens, the sampled one first. */
  readonly top: readonly { readonly token: string; readonly logprob: number }[];
}

export function tokenLogprob(token: string, step: number, count: number): TokenLogprob {
  const logprob = -((Bun.hash.crc32(`${step}:${token}`) % 2000) / 1000) - 0.001;
  const top = [{ token, logprob }];
  for (const alternative of ALTERNATIVES) {
    if (top.length >= count) break;
    if (alternative !== token) top.push({ token: alternative, logprob: logprob - 0.75 * top.length });
  }
  return { token, logprob, top: top.slice(0, count) };
}

function bytesJson(token: string): string {
  return `[${Array.from(Buffer.from(token, "utf8")).join(",")}]`;
}

function chatEntryJson(entry: TokenLogprob): string {
  const top = entry.top.map(
    (item) => `{"token":${jsonString(item.token)},"logprob":${item.logprob},"bytes":${bytesJson(item.token)}}`,
  );
  const head = `"token":${jsonString(entry.token)},"logprob":${entry.logprob},"bytes":${bytesJson(entry.token)}`;
  return `{${head},"top_logprobs":[${top.join(",")}]}`;
}

/** Chat `logprobs` object for the given tokens. */
export function chatLogprobsJson(entries: readonly TokenLogprob[]): string {
  return `{"content":[${entries.map(chatEntryJson).join(",")}]}`;
}

/** Completions `logprobs` object; `textOffset` is where the first token starts in the choice's text. */
export function completionLogprobsJson(entries: readonly TokenLogprob[], textOffset: number): string {
  const offsets: number[] = [];
  let offset = textOffset;
  for (const entry of entries) {
    offsets.push(offset);
    offset += entry.token.length;
  }
  const tops = entries.map((entry) => {
    const pairs = entry.top.map((item) => `${jsonString(item.token)}:${item.logprob}`);
    return `{${pairs.join(",")}}`;
  });
  return (
    `{"text_offset":[${offsets.join(",")}],"token_logprobs":[${entries.map((entry) => entry.logprob).join(",")}],` +
    `"tokens":[${entries.map((entry) => jsonString(entry.token)).join(",")}],"top_logprobs":[${tops.join(",")}]}`
  );
}
