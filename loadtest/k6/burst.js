// @ts-check
// Burst: idle, then several hundred requests within one second, then idle; repeated.
// Continuous batching should absorb each spike: zero errors, aggregate tokens/s (completion_tokens
// rate) far above a single stream, and vllm:num_requests_waiting > 0 on the workers meanwhile.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/burst.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.burst);

export default gameTraffic(SCENARIOS.burst);
