// @ts-check
// Ramp: the arrival rate steps up every 30 s until the promises break: the capacity curve. k6 judges
// thresholds over the run so far, so abortOnFail stops the run a little after the knee; the summary's
// per-step lines (`ttft_ms{step:N}`, `errors{step:N}`) show which step actually broke.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/ramp.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.ramp);

export default gameTraffic(SCENARIOS.ramp);
