import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { type ComposeFile, flagValue, loadCompose, REPO_ROOT, workerServices } from "../compose-model.ts";
import { dashboardExprs, jobNames, readDashboard, seriesNames } from "./dashboard-model.ts";

/** The observability profile's files must agree with the compose services they describe. */

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
}

const prometheus = parse(readFileSync(resolve(import.meta.dir, "prometheus.yml"), "utf8")) as { scrape_configs: ScrapeConfig[] };
const datasources = parse(
  readFileSync(resolve(import.meta.dir, "grafana/provisioning/datasources/prometheus.yaml"), "utf8"),
) as { datasources: { uid: string; url: string; type: string }[] };
const providers = parse(
  readFileSync(resolve(import.meta.dir, "grafana/provisioning/dashboards/ringgate.yaml"), "utf8"),
) as { providers: { options: { path: string } }[] };
const dashboard = readDashboard();
/** Series the NVIDIA DCGM exporter publishes with its default counter set. */
const DCGM_DEFAULT_SERIES = new Set(["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP"]);

function job(name: string): ScrapeConfig {
  const found = prometheus.scrape_configs.find((config) => config.job_name === name);
  if (!found) throw new Error(`scrape job ${name} missing`);
  return found;
}

function mountTarget(compose: ComposeFile, service: string, hostPath: string): string | undefined {
  const volume = compose.services[service]?.volumes?.find((v) => resolve(REPO_ROOT, v.split(":")[0] ?? "") === resolve(import.meta.dir, hostPath));
  return volume?.split(":")[1];
}

describe.each(["compose.yaml", "compose.cpu.yaml"])("observability profile of %s", (file) => {
  const compose = loadCompose(file);

  test("Prometheus scrapes the gateway and exactly the worker services, labelled with their GPU", () => {
    expect(job("ringgate-gateway").static_configs.flatMap((c) => c.targets)).toEqual([`gateway:${compose.services.gateway?.environment?.PORT}`]);
    const gpuWorkers = loadCompose("compose.yaml").services;
    const scraped = job("vllm").static_configs.flatMap((c) => c.targets.map((target) => ({ target, gpu: c.labels?.gpu })));
    const expected = workerServices(compose).map(([name, service]) => ({
      target: `${name}:${flagValue(service.command, "--port")}`,
      gpu: gpuWorkers[name]?.deploy?.resources?.reservations?.devices?.[0]?.device_ids?.[0],
    }));
    const byTarget = (a: { target: string }, b: { target: string }) => a.target.localeCompare(b.target);
    expect(scraped.sort(byTarget)).toEqual(expected.sort(byTarget));
  });

  test("Prometheus and Grafana mount the files where their configuration expects them", () => {
    const prometheusService = compose.services.prometheus;
    expect(prometheusService?.profiles).toEqual(["observability"]);
    const configPath = mountTarget(compose, "prometheus", "prometheus.yml");
    expect(prometheusService?.command).toContain(`--config.file=${configPath}`);
    expect(mountTarget(compose, "grafana", "grafana/provisioning")).toBe("/etc/grafana/provisioning");
    expect(mountTarget(compose, "grafana", "grafana/dashboards")).toBe(providers.providers[0]?.options.path);
    expect(new URL(datasources.datasources[0]?.url ?? "").host).toBe("prometheus:9090");
  });
});

describe("GPU metrics", () => {
  test("the DCGM job scrapes the dcgm-exporter service, which only the GPU stack has", () => {
    const targets = job("dcgm").static_configs.flatMap((c) => c.targets);
    expect(targets).toEqual(["dcgm-exporter:9400"]);
    expect(loadCompose("compose.yaml").services["dcgm-exporter"]?.profiles).toEqual(["observability"]);
    expect(loadCompose("compose.cpu.yaml").services["dcgm-exporter"]).toBeUndefined();
  });
});

describe("the ringgate dashboard", () => {
  test("every panel queries the provisioned datasource", () => {
    const uid = datasources.datasources[0]?.uid;
    const queried = dashboard.panels.filter((panel) => panel.type !== "row");
    expect(queried.length).toBeGreaterThan(0);
    for (const panel of queried) {
      expect(panel.datasource?.uid, panel.title).toBe(uid ?? "");
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? uid, panel.title).toBe(uid ?? "");
    }
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
  });

  test("queries select only scrape jobs that exist, and DCGM series from its default set", () => {
    const jobs = new Set(prometheus.scrape_configs.map((config) => config.job_name));
    for (const expr of dashboardExprs(dashboard)) {
      expect(seriesNames(expr).length, expr).toBeGreaterThan(0);
      for (const name of jobNames(expr)) expect(jobs.has(name), expr).toBe(true);
      for (const series of seriesNames(expr).filter((s) => s.startsWith("DCGM_"))) expect(DCGM_DEFAULT_SERIES.has(series), series).toBe(true);
    }
  });
});
