import { secureHeaders } from "hono/secure-headers";

/**
 * On every answer, the pages (waiting room, operator) above all: no other site may frame them (a
 * clickjacking page over "Buy" or the operator's "close sale"), and no URL of ours (a product, a
 * ticket's page) leaks to a site they link to. The CSP says only frame-ancestors: the pages'
 * inline scripts and styles stay allowed. Hono's defaults we do not want are off:
 * Cross-Origin-Resource-Policy would stop a shop on another origin reading /order's answer, and
 * HSTS belongs to the TLS in front (Cloudflare's setting), not to the Worker.
 */
export const securityHeaders = secureHeaders({
  contentSecurityPolicy: { frameAncestors: ["'none'"] },
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginEmbedderPolicy: false,
  strictTransportSecurity: false,
});
