# syntax=docker/dockerfile:1
# One image for the origin side's Node services (bridge, origin, worker); compose picks the entry
# point. Compiled JavaScript and production dependencies only, on the Node.js LTS the project runs
# on (the `node` devDependency in package.json: stack/test/node-image.test.ts holds the two equal).
# The build steps are stack/docker/build-node-services.ts, which the same test runs and starts.
ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
# Dev dependencies for the build (esbuild); no install scripts, no Cloudflare tools (optional).
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund \
 && node stack/docker/build-node-services.ts /app

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --disable-warning=TimeoutNegativeWarning"
WORKDIR /app
COPY --from=build /app ./
USER node
CMD ["node", "origin/dist/main.js"]
