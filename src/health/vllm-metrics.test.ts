import { expect, test } from "bun:test";
import { parseVllmMetrics } from "./vllm-metrics.ts";

// Excerpt of a real vLLM v0.10 /metrics page (vllm-wire/metrics.txt), with a second engine added.
const PAGE = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="heavy"} 12.0
vllm:num_requests_running{engine="1",model_name="heavy"} 2.0
vllm:num_requests_waiting{engine="0",model_name="heavy"} 3.0
vllm:kv_cache_usage_perc{engine="0",model_name="heavy"} 0.8125
vllm:generation_tokens_total{engine="0",model_name="heavy"} 98765.0
vllm:prompt_tokens_total{engine="0",model_name="heavy"} 4321.0
vllm:generation_tokens_created{engine="0",model_name="heavy"} 1.760000000123e+09
vllm:request_success_total{engine="0",finished_reason="stop",model_name="heavy"} 40.0
`;

const cases: [string, string, ReturnType<typeof parseVllmMetrics>][] = [
  ["vLLM page, engines summed", PAGE, { running: 14, waiting: 3, kvCacheUsage: 0.8125, generationTokensTotal: 98765, promptTokensTotal: 4321, scrapedAtMs: 7 }],
  ["older vLLM: gpu_cache_usage_perc, sample timestamps", 'vllm:gpu_cache_usage_perc{model_name="m"} 0.5 1700000000000\nvllm:num_requests_running 1', { running: 1, waiting: 0, kvCacheUsage: 0.5, generationTokensTotal: 0, promptTokensTotal: 0, scrapedAtMs: 7 }],
  ["not a vLLM worker", "# HELP up\nup 1\nprocess_cpu_seconds_total 3.5\n", undefined],
  ["empty page", "", undefined],
];

test.each(cases)("%s", (_name, text, expected) => {
  expect(parseVllmMetrics(text, 7)).toEqual(expected);
});
