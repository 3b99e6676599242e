// @ts-check
// The session workload: many NPC conversations at once, each with its own long system prompt (the
// NPC's persona and world state) and a history that grows turn by turn, as the game sends them.
// What vLLM's prefix cache rewards when a conversation stays on one replica. Pure functions and
// plain data only: k6 imports this file too. Typed through JSDoc, checked by `bun run typecheck`.

import { seededRandom } from "./seeded-random.js";

/** @import { ChatMessage, ChatRequestBody, PoolName } from "./request-mix.js" */

/**
 * @typedef {object} SessionWorkload
 * @property {number} sessions Conversations running at once (one closed loop each).
 * @property {number} turns Requests per conversation, each resending the whole history.
 * @property {number} systemPromptTokens Length of each NPC's own system prompt.
 * @property {number} userTurnTokens Length of each player line.
 * @property {number} maxTokens Answer length cap per turn.
 * @property {number} thinkTimeMs Mean pause between an answer and the player's next line (0.5–1.5 × it, seeded).
 * @property {PoolName} model
 */

/** @type {SessionWorkload} */
export const NPC_SESSIONS = {
  sessions: 32,
  turns: 8,
  systemPromptTokens: 1000,
  userTurnTokens: 30,
  maxTokens: 24,
  thinkTimeMs: 300,
  model: "heavy",
};

/** Four characters per token, as the Qwen tokenizers average on English text (and the emulator counts). */
const CHARS_PER_TOKEN = 4;

const WORDS = [
  "trader",
  "nebula",
  "cargo",
  "outpost",
  "faction",
  "smuggler",
  "reactor",
  "beacon",
  "derelict",
  "convoy",
  "tariff",
  "garrison",
  "mining",
  "relay",
  "pilot",
  "shipyard",
  "ration",
  "contract",
  "patrol",
  "rumour",
];

/**
 * Deterministic words of about `tokens` tokens; the seed makes each NPC's text differ from its first block.
 * @param {number} seed
 * @param {number} tokens
 * @returns {string}
 */
function filler(seed, tokens) {
  const random = seededRandom(seed);
  const words = [];
  let chars = 0;
  while (chars < tokens * CHARS_PER_TOKEN) {
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? "void";
    words.push(word);
    chars += word.length + 1;
  }
  return words.join(" ");
}

/**
 * The NPC's persona and world state: unique per session from its first characters.
 * @param {string} sessionId
 * @param {number} index
 * @param {SessionWorkload} workload
 * @returns {string}
 */
export function systemPromptFor(sessionId, index, workload) {
  const head = `NPC ${sessionId}. You keep a station in a galaxy-scale trading game. Stay in character. World: `;
  return head + filler(index * 7919 + 1, workload.systemPromptTokens - Math.ceil(head.length / CHARS_PER_TOKEN));
}

/**
 * The request for one turn: system prompt, every earlier exchange, then this turn's player line.
 * @param {ChatMessage[]} history Earlier user and assistant messages of this conversation.
 * @param {string} systemPrompt
 * @param {number} index
 * @param {number} turn
 * @param {SessionWorkload} workload
 * @returns {ChatRequestBody}
 */
export function sessionTurnBody(history, systemPrompt, index, turn, workload) {
  /** @type {ChatMessage} */
  const line = { role: "user", content: `Turn ${turn}: ${filler(index * 104729 + turn, workload.userTurnTokens)}` };
  return {
    model: workload.model,
    messages: [{ role: "system", content: systemPrompt }, ...history, line],
    max_tokens: workload.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
}

/**
 * The pause before a turn: players do not type in lockstep, so conversations drift apart.
 * @param {number} index
 * @param {number} turn
 * @param {SessionWorkload} workload
 * @returns {number}
 */
export function thinkTimeMsFor(index, turn, workload) {
  return workload.thinkTimeMs * (0.5 + seededRandom(index * 31337 + turn)());
}

/**
 * What the history keeps after a turn: the player's line and the answer (its text, or a stand-in of
 * the same length when the client did not read it).
 * @param {ChatRequestBody} body
 * @param {string} answer
 * @returns {ChatMessage[]}
 */
export function historyAfter(body, answer) {
  return [...body.messages.slice(1), { role: "assistant", content: answer }];
}
