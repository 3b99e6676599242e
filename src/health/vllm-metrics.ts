/** The load numbers a vLLM worker reports on `/metrics`, as the prober last scraped them. */
export interface WorkerLoad {
  running: number;
  waiting: number;
  /** 0..1; vLLM ≥ 0.10 calls it `kv_cache_usage_perc`, older versions `gpu_cache_usage_perc`. */
  kvCacheUsage: number;
  /** Monotonic counter; stuck detection watches it move. */
  generationTokensTotal: number;
  /** Monotonic counter of prefilled prompt tokens. */
  promptTokensTotal: number;
  /** Epoch ms of the scrape. */
  scrapedAtMs: number;
}

const FAMILIES: Readonly<Record<string, keyof Omit<WorkerLoad, "scrapedAtMs">>> = {
  "vllm:num_requests_running": "running",
  "vllm:num_requests_waiting": "waiting",
  "vllm:kv_cache_usage_perc": "kvCacheUsage",
  "vllm:gpu_cache_usage_perc": "kvCacheUsage",
  "vllm:generation_tokens_total": "generationTokensTotal",
  "vllm:prompt_tokens_total": "promptTokensTotal",
};

/**
 * Reads the load numbers from Prometheus text exposition. Samples of one family are summed, because a
 * worker with several engines (data parallel) reports one series per engine. Returns undefined when
 * the text has neither the running gauge nor the token counter (not a vLLM worker, or a broken scrape).
 */
export function parseVllmMetrics(text: string, scrapedAtMs: number): WorkerLoad | undefined {
  const load: WorkerLoad = { running: 0, waiting: 0, kvCacheUsage: 0, generationTokensTotal: 0, promptTokensTotal: 0, scrapedAtMs };
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.startsWith("#")) continue;
    const nameEnd = line.search(/[{\s]/);
    const field = FAMILIES[nameEnd < 0 ? line : line.slice(0, nameEnd)];
    if (!field) continue;
    // The value follows the labels; an optional timestamp may follow the value.
    const afterLabels = line[nameEnd] === "{" ? line.indexOf("}", nameEnd) + 1 : nameEnd;
    const value = Number(line.slice(afterLabels).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    load[field] += value;
    seen.add(field);
  }
  return seen.has("running") || seen.has("generationTokensTotal") ? load : undefined;
}

/** GET /metrics as load numbers. Load is a bonus wherever it is read: a failed scrape is undefined, never thrown. */
export async function scrapeLoad(
  get: (path: string) => Promise<Response>,
  now: () => number,
): Promise<WorkerLoad | undefined> {
  try {
    const response = await get("/metrics");
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    return parseVllmMetrics(await response.text(), now());
  } catch {
    return undefined;
  }
}
