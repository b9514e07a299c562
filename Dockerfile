# syntax=docker/dockerfile:1
# Token Vault: multi-stage build, Node 24 LTS runtime, non-root, no key material.
# Keys, certificates and the config file are mounted at run time (see keys/README.md, deploy/README.md).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsconfig.build.json leaves out src/dev (dev entry, demo IdP/CRM, dev PKI).
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# Set by CI: --build-arg VERSION=... --build-arg SOURCE_URL=... --build-arg REVISION=$(git rev-parse HEAD)
ARG VERSION=0.1.0
ARG SOURCE_URL=https://example.invalid/token-vault
ARG REVISION=unknown
LABEL org.opencontainers.image.title="token-vault" \
      org.opencontainers.image.description="Keeps users' OAuth refresh tokens encrypted and issues short-lived, single-operation tokens to AI agent gateways over mTLS (RFC 8693)." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="UNLICENSED"
ENV NODE_ENV=production \
    TOKEN_VAULT_CONFIG=/etc/token-vault/config.yaml \
    TOKEN_VAULT_KEYS_DIR=/run/secrets/token-vault
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, straight from the lockfile; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /var/lib/token-vault \
 && chown node:node /var/lib/token-vault
COPY --from=build /app/dist ./dist
# The image's own "node" user (uid 1000); the app directory stays root-owned and read-only to it.
# /var/lib/token-vault (audit checkpoint, audit.checkpointFile) is the one directory it writes.
USER node
EXPOSE 8443 9443
STOPSIGNAL SIGTERM
# Liveness of the public listener over loopback. The certificate is not verified for this one
# request only: it names the service's host names, not 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('node:https').get({host:'127.0.0.1',port:Number(process.env.TOKEN_VAULT_PUBLIC_PORT||8443),path:'/healthz',rejectUnauthorized:false,timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.js"]
