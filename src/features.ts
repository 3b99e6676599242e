import { adminFeature } from "./admin/admin-feature.ts";
import { clientAuthFeature } from "./auth/client-auth-feature.ts";
import { corsFeature } from "./auth/cors-feature.ts";
import { dashboardFeature } from "./dashboard/dashboard-feature.ts";
import { inputGuardFeature } from "./auth/input-guard-feature.ts";
import { discoveryFeature } from "./discovery/discovery-feature.ts";
import { experimentsFeature } from "./experiments/experiments-feature.ts";
import { feedbackFeature } from "./experiments/feedback-feature.ts";
import type { GatewayFeature } from "./gateway.ts";
import { healthFeature } from "./health/health-feature.ts";
import { metricsFeature } from "./metrics/metrics-feature.ts";
import { requestLog } from "./request-log.ts";
import { tracingFeature } from "./tracing/tracing-feature.ts";

/** The features a production gateway runs with, in setup order. */
export function defaultFeatures(): GatewayFeature[] {
  return [requestLog(), discoveryFeature(), healthFeature(), metricsFeature(), corsFeature(), clientAuthFeature(), inputGuardFeature(), feedbackFeature(), experimentsFeature(), adminFeature(), dashboardFeature(), tracingFeature()];
}
