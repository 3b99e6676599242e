import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ExperimentAdminActions } from "../src/admin/admin-actions.ts";
import type { AppEnv } from "./context.ts";
import { jsonBody } from "./json-body.ts";
import { errorEnvelopeSchema } from "./schemas.ts";

const weightsBody = z
  .object({
    weights: z
      .record(z.string().min(1), z.number().min(0))
      .refine((weights) => Object.keys(weights).length > 0, { error: "weights must name at least one variant" })
      .openapi({ example: { "heavy-a": 50, "heavy-b": 50 } }),
  })
  .strict()
  .openapi("VariantWeightsRequest");

const weightsResponse = z
  .object({ model: z.string(), variants: z.array(z.object({ pool: z.string(), weight: z.number() })) })
  .openapi("VariantWeights");

const workerUrl = z.url({ protocol: /^https?$/, error: "url must be an http(s) base URL such as http://heavy-1:8000" });
const workerBody = z.object({ url: workerUrl }).strict();
const envelope = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelopeSchema } },
});
const security = [{ adminBearer: [] }];
const actionSchema = z.object({ pool: z.string(), url: z.string(), action: z.string() });

const weightsRoute = createRoute({
  method: "put",
  path: "/admin/models/{model}/weights",
  summary: "Change a variants model's split at run time: new requests see it at once, in-flight ones finish",
  description:
    "Named variants get the given weights, the others keep theirs. Kept across a config reload unless the file " +
    "changed this model's weights. Evented and logged with the admin actor. Re-arms the variants' guards.",
  security,
  request: {
    params: z.object({ model: z.string().openapi({ param: { name: "model", in: "path" }, example: "heavy" }) }),
    body: { required: true, content: { "application/json": { schema: weightsBody } } },
  },
  responses: {
    200: { description: "The split new requests use", content: { "application/json": { schema: weightsResponse } } },
    400: envelope("Not a variant of the model, a negative weight, or every weight 0"),
    401: envelope("Missing or wrong admin key"),
    404: envelope("No such model, or the admin API is disabled"),
  },
});

function sleepRoute(path: string, summary: string, description: string) {
  return createRoute({
    method: "post",
    path,
    summary,
    description,
    security,
    request: {
      params: z.object({ pool: z.string().openapi({ param: { name: "pool", in: "path" }, example: "heavy" }) }),
      body: { required: true, content: { "application/json": { schema: workerBody } } },
    },
    responses: {
      200: { description: "Done", content: { "application/json": { schema: actionSchema } } },
      400: envelope("Invalid input"),
      401: envelope("Missing or wrong admin key"),
      404: envelope("Unknown pool or worker, or the admin API is disabled"),
      502: envelope("The worker refused or has no sleep mode (`--enable-sleep-mode`, VLLM_SERVER_DEV_MODE=1)"),
      504: envelope(
        "In-flight requests did not finish, or the woken worker did not pass its probe, within timeouts.totalMs",
      ),
    },
  });
}

const sleepWorkerRoute = sleepRoute(
  "/admin/pools/{pool}/workers/sleep",
  "Put a worker to sleep (vLLM sleep mode, level 1) without failing a request",
  "Drains the worker, waits until its in-flight requests finished, then POST /sleep?level=1. " +
    "It stays drained while asleep.",
);
const wakeWorkerRoute = sleepRoute(
  "/admin/pools/{pool}/workers/wake",
  "Wake a sleeping worker; traffic returns only after it passes its health probe",
  "POST /wake_up, probe until the health thresholds pass, then undrain.",
);

/** Registered by the admin routes after their auth middleware, so /admin/* auth covers these too. */
export function registerExperimentAdminRoutes(
  app: OpenAPIHono<AppEnv>,
  actions: ExperimentAdminActions,
  actor: (keyName: string | undefined) => string,
): void {
  for (const route of [weightsRoute, sleepWorkerRoute, wakeWorkerRoute]) app.openAPIRegistry.registerPath(route);
  app.put("/admin/models/:model/weights", async (c) => {
    const { weights } = await jsonBody(c, weightsBody);
    const model = c.req.param("model");
    return c.json({ model, variants: actions.setWeights(model, weights, actor(c.get("keyName"))) }, 200);
  });
  app.post("/admin/pools/:pool/workers/sleep", async (c) => {
    const { url } = await jsonBody(c, workerBody);
    const worker = await actions.sleep(c.req.param("pool"), url, actor(c.get("keyName")));
    return c.json({ pool: worker.pool, url: worker.url, action: "slept" }, 200);
  });
  app.post("/admin/pools/:pool/workers/wake", async (c) => {
    const { url } = await jsonBody(c, workerBody);
    const worker = await actions.wake(c.req.param("pool"), url, actor(c.get("keyName")));
    return c.json({ pool: worker.pool, url: worker.url, action: "woken" }, 200);
  });
}
