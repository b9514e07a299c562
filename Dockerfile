# syntax=docker/dockerfile:1
# Token Vault: multi-stage build, Node 24 LTS runtime, non-root, no key material.
# Keys, certificates and the config file are mounted at run time (see keys/README.md).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TOKEN_VAULT_CONFIG=/etc/token-vault/config.yaml \
    TOKEN_VAULT_KEYS_DIR=/run/secrets/token-vault
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# The image's own "node" user (uid 1000); the app directory stays root-owned and read-only to it.
USER node
EXPOSE 8443 9443
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.js"]
