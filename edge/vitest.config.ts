import { createServer, type AddressInfo } from "node:net";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import type { StackState } from "../stack/src/state";

/**
 * An origin that hangs: it takes connections and never answers (a wedged process, a black-holed
 * route). Tests point ORIGIN_URL at it to prove every call to the origin is cut in time.
 */
let silent: Promise<string> | undefined;
const silentOrigin = () =>
  (silent ??= new Promise<string>((resolve) => {
    const server = createServer(() => undefined).listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    server.unref();
  }));

/**
 * Edge tests run inside workerd (the Workers runtime) and reach the real stack that the root
 * global setup brought up: the Upstash bridge in front of redis, and the origin.
 */
export default defineProject({
  plugins: [
    cloudflareTest(async ({ inject }) => {
      const stack = inject<StackState>("stack");
      return {
        wrangler: { configPath: "../wrangler.toml" },
        miniflare: {
          bindings: {
            UPSTASH_REDIS_REST_URL: stack.bridge.url,
            UPSTASH_REDIS_REST_TOKEN: stack.bridge.token,
            ORIGIN_URL: stack.origin.url,
            // Buyers are signed in with the stack's dev issuer (ES256 keys from its JWKS), as on the local edge.
            // As stack/src/issuer/app.ts identityBindings (not imported: a config file loads no TypeScript sources).
            IDENTITY: "jwt",
            JWT_ISSUER: stack.issuer.url,
            JWT_JWKS_URL: stack.issuer.jwksUrl,
            JWT_AUDIENCE: stack.issuer.audience,
            ADMIN_TOKEN: "test-admin-token",
            TICKET_SECRET: "test-ticket-secret",
            SHOP_API_TOKEN: "test-shop-token",
            ORIGIN_SIGNING_SECRET: "test-origin-signing-secret",
            // Not the edge's own setting: where the tests find an origin that never answers.
            SILENT_ORIGIN_URL: await silentOrigin(),
          },
        },
      };
    }),
  ],
  test: { name: "edge", setupFiles: ["./test/cleanup.ts"] },
});
