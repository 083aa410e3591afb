import { serve } from "@hono/node-server";
import { join } from "node:path";
import { createLogger, handleShutdown } from "@fluxgate/common/node";
import { stackConfig } from "../config";
import { issuerApp, issuerUrl } from "./app";
import { KeyStore } from "./keys";

/** The dev issuer as a stack service (`npm run up` starts it): see app.ts. */
const logger = createLogger("issuer");
const config = stackConfig();
const keys = new KeyStore(join(config.home.data, "identity", "keys.json"));
const server = serve({ fetch: issuerApp(issuerUrl(config), keys).fetch, hostname: "127.0.0.1", port: config.ports.issuer });
// Crowds keep their sockets open between sign-ins; never close one under a client that is about to reuse it.
(server as import("node:http").Server).keepAliveTimeout = 65_000;
logger.info({ issuer: issuerUrl(config), kid: keys.current.private.kid }, "dev issuer listening");
handleShutdown(logger, [{ name: "http", run: () => new Promise<void>((resolve) => server.close(() => resolve())) }]);
