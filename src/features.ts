import type { GatewayFeature } from "./gateway.ts";
import { healthFeature } from "./health/health-feature.ts";
import { requestLog } from "./request-log.ts";

/** The features a production gateway runs with, in setup order. */
export function defaultFeatures(): GatewayFeature[] {
  return [requestLog(), healthFeature()];
}
