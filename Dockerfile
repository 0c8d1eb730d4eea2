# syntax=docker/dockerfile:1
#
# The proxy (@mta/server) as an image. The build stage runs exactly what the deploy test runs
# (packages/server/test/Deploy.test.ts): `pnpm install --frozen-lockfile`, then `scripts/deploy.mjs`
# (turbo's build of @mta/server and the workspace packages it uses, then
# `pnpm --filter @mta/server deploy --prod`). The runtime stage is that folder on Node 22 slim, run
# with plain `node` as the unprivileged `node` user. No Docker engine runs where this repository is
# developed and tested, so this image itself was not built there (README, "Deploy").
#
#   docker build -t mta-server .
#   docker run --env-file .env -p 8080:8080 -v mta-data:/data mta-server            (the proxy)
#   docker run --env-file .env mta-server check-config | migrate | --help | --version

FROM node:22-slim AS build
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0
WORKDIR /workspace
# pnpm at the version package.json's "packageManager" pins.
RUN corepack enable
COPY . .
RUN pnpm install --frozen-lockfile
RUN node scripts/deploy.mjs /out

FROM node:22-slim
WORKDIR /app
COPY --from=build /out /app
# The embedded store (the default without DATABASE_URL) keeps its data in ./.mta-data of the working
# directory: /data/.mta-data, on a volume, owned by the user the proxy runs as.
RUN mkdir -p /data && chown node:node /data
USER node
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# Liveness: /healthz answers while the process serves. The start period covers the embedded store's
# first start (PGlite initialises its data directory: about 6.5 s of CPU, bench/DEPLOY-RESULTS.md).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/main.js"]
