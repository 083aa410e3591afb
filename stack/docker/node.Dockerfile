# One image for the Node deployables (bridge, origin, worker); compose picks the entry point.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY bridge/package.json bridge/
COPY origin/package.json origin/
COPY worker/package.json worker/
COPY stack/package.json stack/
COPY edge/package.json edge/
COPY waiting-room/package.json waiting-room/
COPY load/package.json load/
RUN npm ci --omit=dev --workspace common --workspace bridge --workspace origin --workspace worker --include-workspace-root=false \
 && npm install --no-save tsx@4
COPY common common
COPY bridge bridge
COPY origin origin
COPY worker worker
ENV NODE_ENV=production
USER node
