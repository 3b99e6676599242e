// @ts-check
// Smoke: 1 req/s of the game mix for 30 s — run first, after every deploy.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/smoke.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.smoke);

export default gameTraffic(SCENARIOS.smoke);
