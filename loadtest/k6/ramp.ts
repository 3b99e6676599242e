// Ramp: the arrival rate steps up every 30 s; abortOnFail thresholds stop the run at the first
// step that breaks the promises, so the last passing step is the stack's capacity.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/ramp.ts

import { SCENARIOS } from "../scenarios/scenarios.ts";
import { gameRequest } from "./game-traffic.ts";
import { k6Options } from "./k6-options.ts";

export const options = k6Options(SCENARIOS.ramp);

export default gameRequest;
