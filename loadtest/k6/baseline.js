// @ts-check
// Baseline: constant arrival rate of the game mix; the reference numbers for a healthy stack.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/baseline.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.baseline);

export default gameTraffic(SCENARIOS.baseline);
