// @ts-check
// Game traffic as request kinds. Plain data and pure functions only: k6 imports this file too, so
// it must not touch Bun, Node or DOM APIs (the k6 type-check enforces that). Plain JavaScript typed
// through JSDoc (checked by `bun run typecheck`), so any k6 can load it without TypeScript support.

/** @typedef {"heavy" | "light"} PoolName */

/** @typedef {"npc_intent" | "dialogue_turn" | "tool_call" | "storytelling"} KindName */

/**
 * @typedef {object} ChatMessage
 * @property {"system" | "user" | "assistant"} role
 * @property {string} content
 */

/**
 * @typedef {object} RequestKind
 * @property {KindName} name
 * @property {PoolName} pool
 * @property {boolean} stream
 * @property {number} maxTokens
 * @property {number} weight Relative share of this kind in a mix.
 * @property {"auto" | "required"} [toolChoice]
 */

/**
 * @typedef {object} ChatRequestBody
 * @property {PoolName} model
 * @property {ChatMessage[]} messages
 * @property {number} max_tokens
 * @property {boolean} stream
 * @property {{ include_usage: boolean }} [stream_options]
 * @property {ToolDefinition[]} [tools]
 * @property {"auto" | "required"} [tool_choice]
 */

/**
 * @typedef {object} ToolDefinition
 * @property {"function"} type
 * @property {{ name: string; description: string; parameters: Record<string, unknown> }} function
 */

// NPC prompts share a long system prefix in the real game, which is what vLLM's prefix cache sees.
const NPC_SYSTEM =
  "You are an NPC in a galaxy-scale space trading game. Stay in character, answer briefly, " +
  "never mention being an AI. Factions: Terran Union, Vesk Collective, Free Traders.";

/** @type {readonly string[]} */
const LINES = [
  "Any work for a pilot with a fast ship?",
  "What are fuel prices like at this station?",
  "Have you seen the Vesk patrols near the gate?",
  "I need to sell forty tons of ore, who is buying?",
  "Tell me about the derelict in the outer belt.",
  "Can you repair my shield generator?",
];

/** @type {ToolDefinition[]} */
const TOOLS = [
  {
    type: "function",
    function: {
      name: "set_npc_intent",
      description: "Record what the NPC decides to do next.",
      parameters: {
        type: "object",
        properties: {
          intent: { type: "string", enum: ["trade", "attack", "flee", "talk", "ignore"] },
          target: { type: "string" },
        },
        required: ["intent"],
      },
    },
  },
];

/**
 * The four kinds the game sends; weights give the default "game" mix.
 * @type {readonly RequestKind[]}
 */
export const REQUEST_KINDS = [
  { name: "npc_intent", pool: "light", stream: false, maxTokens: 16, weight: 45 },
  { name: "dialogue_turn", pool: "light", stream: true, maxTokens: 120, weight: 20 },
  { name: "tool_call", pool: "light", stream: false, maxTokens: 64, weight: 15, toolChoice: "required" },
  { name: "storytelling", pool: "heavy", stream: true, maxTokens: 400, weight: 8 },
  { name: "dialogue_turn", pool: "heavy", stream: true, maxTokens: 120, weight: 12 },
];

/**
 * Picks a kind by weight; `random01` comes from the caller so runs can be seeded.
 * @param {readonly RequestKind[]} kinds
 * @param {number} random01
 * @returns {RequestKind}
 */
export function pickKind(kinds, random01) {
  const total = kinds.reduce((sum, kind) => sum + kind.weight, 0);
  let remaining = random01 * total;
  for (const kind of kinds) {
    remaining -= kind.weight;
    if (remaining < 0) return kind;
  }
  const last = kinds[kinds.length - 1];
  if (last === undefined) throw new Error("request mix is empty");
  return last;
}

/**
 * Builds the OpenAI body; `seq` varies the user line so not every prompt is identical.
 * @param {RequestKind} kind
 * @param {number} seq
 * @returns {ChatRequestBody}
 */
export function buildRequestBody(kind, seq) {
  const line = LINES[seq % LINES.length] ?? "Hello.";
  /** @type {ChatRequestBody} */
  const body = {
    model: kind.pool,
    messages: [
      { role: "system", content: kind.name === "storytelling" ? `${NPC_SYSTEM} Tell long tales.` : NPC_SYSTEM },
      { role: "user", content: line },
    ],
    max_tokens: kind.maxTokens,
    stream: kind.stream,
  };
  // Usage in the last chunk is the only exact token count a streaming client gets.
  if (kind.stream) body.stream_options = { include_usage: true };
  if (kind.toolChoice !== undefined) {
    body.tools = TOOLS;
    body.tool_choice = kind.toolChoice;
  }
  return body;
}
