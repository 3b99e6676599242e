import { parseConfig } from "../config/load.ts";
import type { ConfigInput } from "../config/schema.ts";
import { type GatewayHandle, startGateway } from "../../app/gateway-app.ts";
import type { GatewayFeature } from "../gateway.ts";
import type { RequestRecord } from "../proxy/request-record.ts";

/**
 * Test harness: an in-process gateway on a free loopback port with the given config, collecting every
 * request record. Always `await fixture.stop()` in afterAll.
 */
export interface GatewayFixture {
  readonly gateway: GatewayHandle;
  readonly url: string;
  readonly records: RequestRecord[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export async function startGatewayFixture(config: ConfigInput, features: readonly GatewayFeature[] = []): Promise<GatewayFixture> {
  const records: RequestRecord[] = [];
  const recorder: GatewayFeature = { name: "test-records", setup: (context) => context.onFinish((record) => records.push(record)) };
  const gateway = await startGateway({ config: parseConfig(config), port: 0, hostname: "127.0.0.1", features: [recorder, ...features] });
  return {
    gateway,
    url: gateway.url,
    records,
    post: (path, body, headers = {}) =>
      fetch(gateway.url + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    stop: () => gateway.stop(200),
  };
}

/** A loopback URL where nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const url = `http://127.0.0.1:${server.port}`;
  await server.stop(true);
  return url;
}
