import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { type GatewayFixture, startGatewayFixture } from "../src/testing/gateway-fixture.ts";

const swaggerDir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));

/** Every `src` and `href` in a page: what a browser would fetch to render it. */
function assetUrls(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? "");
}

describe("/docs works offline", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    fixture = await startGatewayFixture({ pools: { light: { workers: ["http://127.0.0.1:9"] } } });
  });
  afterAll(() => fixture.stop());

  test("swagger-ui-dist is pinned to one exact version", () => {
    expect(packageJson.dependencies["swagger-ui-dist"]).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("the page loads only assets the gateway serves, byte for byte from the pinned package", async () => {
    const response = await fetch(`${fixture.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    const urls = assetUrls(await response.text());
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const url of urls) {
      expect(url).toStartWith("/docs/assets/");
      const asset = await fetch(fixture.url + url);
      expect(asset.status).toBe(200);
      const shipped = await Bun.file(join(swaggerDir, url.slice("/docs/assets/".length))).bytes();
      expect(new Uint8Array(await asset.arrayBuffer())).toEqual(shipped);
    }
  });

  test.each([
    ["/docs/assets/swagger-ui-bundle.js", "text/javascript"],
    ["/docs/assets/swagger-ui.css", "text/css"],
  ])("%s is served as %s", async (path, type) => {
    expect((await fetch(fixture.url + path)).headers.get("content-type")).toStartWith(type);
  });

  test.each(["/docs/assets/package.json", "/docs/assets/..%2Fpackage.json", "/docs/assets/index.html"])(
    "%s is not served: only the listed files are",
    async (path) => {
      const response = await fetch(fixture.url + path);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
    },
  );
});
