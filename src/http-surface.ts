import type { Registry } from "prom-client";
import type { AdminActions } from "./admin/admin-actions.ts";
import type { KeyLimits } from "./auth/key-limits.ts";
import type { KeyStore } from "./auth/key-store.ts";
import type { DashboardData } from "./dashboard/dashboard-data.ts";
import type { AcceptFeedback } from "./experiments/feedback-feature.ts";

/**
 * What a feature offers the HTTP layer, without knowing HTTP: `routes/` turns each into middleware and
 * routes, in the order the features were set up (CORS before client auth before the input guard).
 */
export type HttpSurface =
  | { kind: "cors" }
  | { kind: "client-auth"; keys(): KeyStore; limits: KeyLimits }
  | { kind: "input-guard" }
  | { kind: "metrics"; registry: Registry }
  | { kind: "feedback"; accept: AcceptFeedback }
  | { kind: "dashboard"; data(): DashboardData }
  | { kind: "admin"; actions: AdminActions };
