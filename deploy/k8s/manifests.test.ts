import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/config/load.ts";
import { flagValue, loadCompose, REMOVED_VLLM_FLAGS, usesFlag, workerServices } from "../compose-model.ts";

/** Parses the plain manifests and checks that they fit together the way the cluster will use them. */

const DIR = import.meta.dir;
const NAMESPACE = "ringgate";
const ONE_OFF = ["model-download-job.yaml"];

interface Probe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    clusterIP?: string;
    ports?: { port: number; targetPort: string | number }[];
    maxUnavailable?: number;
  };
  data?: Record<string, string>;
}

const kustomization = parse(readFileSync(join(DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((doc) => doc.toJS() as Manifest),
);

function find(kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not found`);
  return found;
}

function podLabels(workload: Manifest): Record<string, string> {
  return workload.spec?.template?.metadata.labels ?? {};
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function onlyContainer(workload: Manifest): Container {
  const containers = workload.spec?.template?.spec.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0] as Container;
}

describe("deploy/k8s", () => {
  test("kustomization lists every manifest except documented one-offs, all namespaced", () => {
    const files = readdirSync(DIR).filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => !ONE_OFF.includes(file)).sort());
    const oneOffs = ONE_OFF.flatMap((file) => parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((doc) => doc.toJS() as Manifest));
    for (const m of [...manifests, ...oneOffs]) {
      expect(m.apiVersion && m.kind && m.metadata.name, JSON.stringify(m.metadata)).toBeTruthy();
      if (m.kind !== "Namespace") expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe(NAMESPACE);
    }
  });

  const gateway = find("Deployment", "ringgate-gateway");
  const gatewayContainer = onlyContainer(gateway);
  const envValue = (name: string) => gatewayContainer.env?.find((e) => e.name === name)?.value;

  test("gateway: several replicas, ready on /ready, live on /health, non-root, no GPU", () => {
    expect(gateway.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(gatewayContainer.readinessProbe?.httpGet?.path).toBe("/ready");
    expect(gatewayContainer.livenessProbe?.httpGet?.path).toBe("/health");
    expect(gatewayContainer.ports?.[0]?.containerPort).toBe(Number(envValue("PORT")));
    expect(gateway.spec?.template?.spec.securityContext?.runAsNonRoot).toBe(true);
    expect(gatewayContainer.resources?.limits?.["nvidia.com/gpu"]).toBeUndefined();
  });

  test("gateway Service and PodDisruptionBudget select exactly the gateway pods", () => {
    const service = find("Service", "ringgate-gateway");
    expect(matches(service.spec?.selector as Record<string, string>, podLabels(gateway))).toBe(true);
    expect(gatewayContainer.ports?.some((p) => p.name === service.spec?.ports?.[0]?.targetPort)).toBe(true);
    const pdb = find("PodDisruptionBudget", "ringgate-gateway");
    const selector = (pdb.spec?.selector as { matchLabels: Record<string, string> }).matchLabels;
    expect(matches(selector, podLabels(gateway))).toBe(true);
    expect(pdb.spec?.maxUnavailable ?? 0).toBeLessThan(gateway.spec?.replicas ?? 0);
  });

  const configMapName = gateway.spec?.template?.spec.volumes?.find((v) => v.configMap)?.configMap?.name ?? "";
  const config = parseConfig(JSON.parse(find("ConfigMap", configMapName).data?.["gateway.config.json"] ?? "null"));

  test("the mounted config is the file CONFIG names, and the drain fits the grace period", () => {
    const mount = gatewayContainer.volumeMounts?.find((v) => v.name === "config");
    expect(envValue("CONFIG")).toBe(`${mount?.mountPath}/gateway.config.json`);
    const graceS = gateway.spec?.template?.spec.terminationGracePeriodSeconds ?? 0;
    expect(graceS * 1000).toBeGreaterThan(config.limits.shutdownGraceMs);
    const redisHost = new URL(envValue("REDIS_URL") ?? "").hostname;
    expect(redisHost).toBe(`${find("Service", "redis").metadata.name}.${NAMESPACE}.svc.cluster.local`);
  });

  test.each(["heavy", "light"])("pool %s discovers the ready pods of a headless worker Service", (pool) => {
    const discovery = config.pools[pool]?.discovery;
    expect(discovery).toBeDefined();
    const [serviceName, namespace, ...rest] = (discovery?.dns ?? "").split(".");
    expect([namespace, rest.join(".")]).toEqual([NAMESPACE, "svc.cluster.local"]);
    const service = find("Service", serviceName ?? "");
    expect(service.spec?.clusterIP).toBe("None");
    const workers = manifests.filter((m) => m.kind === "Deployment" && matches(service.spec?.selector as Record<string, string>, podLabels(m)));
    expect(workers).toHaveLength(1);
    const container = onlyContainer(workers[0] as Manifest);
    expect(container.ports?.[0]?.containerPort).toBe(discovery?.port);
    expect(flagValue(container.args ?? [], "--port")).toBe(String(discovery?.port));
    expect(flagValue(container.args ?? [], "--served-model-name")).toBe(config.pools[pool]?.upstreamModel ?? pool);
    expect(container.readinessProbe?.httpGet?.path).toBe("/health");
  });

  test.each(["vllm-heavy", "vllm-light"])("%s: one GPU per pod, pinned image, tool flags, no removed flag", (name) => {
    const container = onlyContainer(find("Deployment", name));
    const args = container.args ?? [];
    expect(container.image).toMatch(/^vllm\/vllm-openai:v0\.(10\.2|11\.\d+)$/);
    expect(container.resources?.limits?.["nvidia.com/gpu"]).toBe(1);
    expect(Number(flagValue(args, "--gpu-memory-utilization"))).toBeLessThanOrEqual(0.95);
    expect(args).toContain("--enable-auto-tool-choice");
    expect(flagValue(args, "--tool-call-parser")).toBe("hermes");
    expect(flagValue(args, "--quantization")).toBe("awq_marlin");
    for (const flag of REMOVED_VLLM_FLAGS) expect(usesFlag(args, flag), flag).toBe(false);
    expect(container.startupProbe?.httpGet?.path).toBe("/health");
  });

  test.each(["vllm-heavy", "vllm-light"])("%s runs the compose worker's arguments except the GPU share", (name) => {
    const args = onlyContainer(find("Deployment", name)).args ?? [];
    const model = flagValue(args, "--served-model-name");
    const composeArgs = workerServices(loadCompose("compose.yaml")).find(([, s]) => flagValue(s.command, "--served-model-name") === model)?.[1].command;
    const withoutShare = (list: readonly string[]) => list.filter((arg, i) => arg !== "--gpu-memory-utilization" && list[i - 1] !== "--gpu-memory-utilization");
    expect(withoutShare(args)).toEqual(withoutShare(composeArgs ?? []));
  });
});
