// @ts-check
// Soak: a steady moderate rate for 30 min to surface leaks, drift and Redis stream growth.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/soak.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.soak);

export default gameTraffic(SCENARIOS.soak);
