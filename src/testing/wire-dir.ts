import { existsSync } from "node:fs";
import { resolve } from "node:path";

/**
 * vLLM's wire transcripts live in `shared/vllm-wire/` beside the repository (CI clones the repo next to
 * `shared/`). Tests that replay them must fail loudly, not skip, when the folder is not there.
 */
export const WIRE_DIR = resolve(import.meta.dir, "..", "..", "..", "shared", "vllm-wire");

if (!existsSync(WIRE_DIR)) throw new Error(`vLLM wire transcripts not found at ${WIRE_DIR}: shared/ must sit beside the repository`);
