import { goFloat } from "./python-format.ts";

/**
 * vLLM's `/metrics` (v1 PrometheusStatLogger) for one replica: same names, HELP texts, label
 * order and bucket bounds as vllm-wire/metrics.txt, hand-formatted the way prometheus_client
 * prints them (Go-style floats, `_created` series), with live values from the scheduler.
 */

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const REQUEST_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

const PREFIX_QUERIES_HELP = "Prefix cache queries, in terms of number of queried tokens.";
const PREFIX_HITS_HELP = "Prefix cache hits, in terms of number of cached tokens.";

export type FinishedReason = "stop" | "length" | "abort";
const FINISHED_REASONS: readonly FinishedReason[] = ["stop", "length", "abort"];

class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(valueS: number, times = 1): void {
    this.#sum += valueS * times;
    this.#count += times;
    const index = this.#bounds.findIndex((bound) => valueS <= bound);
    if (index >= 0) this.#counts[index] = (this.#counts[index] ?? 0) + times;
  }

  render(name: string, labels: string, created: string): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    const [engine, model] = labels.split(",");
    this.#bounds.forEach((bound, index) => {
      cumulative += this.#counts[index] ?? 0;
      lines.push(`${name}_bucket{${engine},le="${goFloat(bound)}",${model}} ${goFloat(cumulative)}`);
    });
    lines.push(`${name}_bucket{${engine},le="+Inf",${model}} ${goFloat(this.#count)}`);
    lines.push(`${name}_count{${labels}} ${goFloat(this.#count)}`);
    lines.push(`${name}_sum{${labels}} ${goFloat(this.#sum)}`);
    lines.push(`${name}_created{${labels}} ${created}`);
    return lines;
  }
}

export interface LiveGauges {
  readonly running: number;
  readonly waiting: number;
  readonly kvCacheUsage: number;
}

export class EngineMetrics {
  readonly #labels: string;
  readonly #created: string;
  #promptTokens = 0;
  #generationTokens = 0;
  #preemptions = 0;
  #prefixQueriedTokens = 0;
  #prefixHitTokens = 0;
  readonly #finished: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0 };
  readonly #ttft = new Histogram(TTFT_BUCKETS);
  readonly #itl = new Histogram(ITL_BUCKETS);
  readonly #e2e = new Histogram(REQUEST_BUCKETS);
  readonly #queue = new Histogram(REQUEST_BUCKETS);

  constructor(servedModelName: string) {
    this.#labels = `engine="0",model_name="${servedModelName}"`;
    this.#created = goFloat(Date.now() / 1000);
  }

  get finished(): Readonly<Record<FinishedReason, number>> {
    return this.#finished;
  }

  onAdmitted(queueMs: number, promptTokens: number): void {
    this.#queue.observe(queueMs / 1000);
    this.#promptTokens += promptTokens;
  }

  onFirstToken(ttftMs: number): void {
    this.#ttft.observe(ttftMs / 1000);
  }

  onTokens(count: number): void {
    this.#generationTokens += count;
  }

  /** One engine step gave `batchSize` requests their next token after `stepMs`. */
  onStep(batchSize: number, stepMs: number): void {
    this.#itl.observe(stepMs / 1000, batchSize);
  }

  /** One prefix-cache lookup, counted in tokens as vLLM does. */
  onPrefixCacheQuery(queriedTokens: number, hitTokens: number): void {
    this.#prefixQueriedTokens += queriedTokens;
    this.#prefixHitTokens += hitTokens;
  }

  onPreempted(): void {
    this.#preemptions++;
  }

  onFinished(reason: FinishedReason, e2eMs: number): void {
    this.#finished[reason]++;
    if (reason !== "abort") this.#e2e.observe(e2eMs / 1000);
  }

  render(gauges: LiveGauges, cacheConfig: Readonly<Record<string, string>>): string {
    const labels = this.#labels;
    const lines = [
      ...gauge("vllm:num_requests_running", "Number of requests in model execution batches.", labels, gauges.running),
      ...gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels, gauges.waiting),
      ...gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels, gauges.kvCacheUsage),
      ...this.#counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", this.#preemptions),
      ...this.#counter("vllm:prompt_tokens", "Number of prefill tokens processed.", this.#promptTokens),
      ...this.#counter("vllm:generation_tokens", "Number of generation tokens processed.", this.#generationTokens),
      ...this.#successCounter(),
      ...this.#counter("vllm:prefix_cache_queries", PREFIX_QUERIES_HELP, this.#prefixQueriedTokens),
      ...this.#counter("vllm:prefix_cache_hits", PREFIX_HITS_HELP, this.#prefixHitTokens),
      ...this.#histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", this.#ttft),
      ...this.#histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", this.#itl),
      ...this.#histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", this.#itl),
      ...this.#histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", this.#e2e),
      ...this.#histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", this.#queue),
      "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig",
      "# TYPE vllm:cache_config_info gauge",
      `vllm:cache_config_info{${Object.entries(cacheConfig).map(([key, value]) => `${key}="${value}"`).join(",")}} 1.0`,
    ];
    return `${lines.join("\n")}\n`;
  }

  #counter(base: string, help: string, value: number): string[] {
    return [
      `# HELP ${base}_total ${help}`,
      `# TYPE ${base}_total counter`,
      `${base}_total{${this.#labels}} ${goFloat(value)}`,
      `${base}_created{${this.#labels}} ${this.#created}`,
    ];
  }

  #successCounter(): string[] {
    const [engine, model] = this.#labels.split(",");
    const lines = [
      "# HELP vllm:request_success_total Count of successfully processed requests.",
      "# TYPE vllm:request_success_total counter",
    ];
    for (const reason of FINISHED_REASONS) {
      const labels = `${engine},finished_reason="${reason}",${model}`;
      lines.push(`vllm:request_success_total{${labels}} ${goFloat(this.#finished[reason])}`);
      lines.push(`vllm:request_success_created{${labels}} ${this.#created}`);
    }
    return lines;
  }

  #histogram(name: string, help: string, histogram: Histogram): string[] {
    return [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`, ...histogram.render(name, this.#labels, this.#created)];
  }
}

function gauge(name: string, help: string, labels: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${labels}} ${goFloat(value)}`];
}
