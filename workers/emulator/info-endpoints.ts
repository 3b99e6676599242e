import type { EngineMetrics } from "./engine-metrics.ts";
import type { EmulatorOptions } from "./options.ts";
import { BLOCK_SIZE_TOKENS } from "./prefix-cache.ts";
import type { Scheduler } from "./scheduler.ts";

/** Bodies of the read-only endpoints: /v1/models and /metrics. */

const STARTED_AT_S = Math.floor(Date.now() / 1000);

export function modelsBody(options: EmulatorOptions): string {
  return JSON.stringify({
    object: "list",
    data: [
      {
        id: options.servedModelName,
        object: "model",
        created: STARTED_AT_S,
        owned_by: "vllm",
        root: options.model,
        parent: null,
        max_model_len: options.maxModelLen,
        permission: [
          {
            id: `modelperm-${crypto.randomUUID().replaceAll("-", "")}`,
            object: "model_permission",
            created: STARTED_AT_S,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: "*",
            group: null,
            is_blocking: false,
          },
        ],
      },
    ],
  });
}

export function metricsText(options: EmulatorOptions, metrics: EngineMetrics, scheduler: Scheduler): string {
  const kvCacheUsage = Math.min(1, scheduler.kvTokens() / options.kvCacheTokens);
  return metrics.render(
    { running: scheduler.running, waiting: scheduler.waiting, kvCacheUsage },
    {
      block_size: String(BLOCK_SIZE_TOKENS),
      cache_dtype: "auto",
      enable_prefix_caching: options.enablePrefixCaching ? "True" : "False",
      engine: "0",
      gpu_memory_utilization: options.profile === "heavy" ? "0.52" : "0.38",
      num_cpu_blocks: "None",
      num_gpu_blocks: String(Math.floor(options.kvCacheTokens / BLOCK_SIZE_TOKENS)),
    },
  );
}
