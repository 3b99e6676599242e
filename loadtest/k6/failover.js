// @ts-check
// Failover: steady load while the operator stops and restarts workers by hand. The schedule is
// printed at start with wall-clock times; run each command in a second terminal at that moment:
//   t=60 s  docker compose stop heavy-1     t=150 s docker compose start heavy-1
//   t=210 s docker compose stop light-0     t=300 s docker compose start light-0
// Expect a short error blip at most (streams cut mid-answer), then the pool serving on one worker.
// Run: k6 run -e TARGET=http://<gateway>:8000 loadtest/k6/failover.js

import { SCENARIOS } from "../scenarios/scenarios.js";
import { gameTraffic } from "./game-traffic.js";
import { k6Options } from "./k6-options.js";

export const options = k6Options(SCENARIOS.failover);

/** @returns {void} */
export function setup() {
  const startMs = Date.now();
  for (const action of SCENARIOS.failover.operatorActions) {
    const at = new Date(startMs + action.atS * 1000).toISOString();
    console.log(`operator: at ${at} (t=${action.atS} s) run: ${action.command}`);
  }
}

export default gameTraffic(SCENARIOS.failover);
