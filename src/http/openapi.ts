/**
 * openapi.yaml is generated from the route schemas of both listeners
 * (@fastify/swagger + fastify-type-provider-zod) and merged into one document.
 * `npm run openapi` writes it; a test keeps the committed file in sync, and
 * `npm run lint:openapi` (redocly.yaml) lints it.
 */
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { stringify } from 'yaml';

type Json = Record<string, unknown>;

declare module 'fastify' {
  interface FastifySchema {
    /** A route that relays another server's answer (any status) documents it as its `2XX` response. */
    'x-relayed-answer'?: string;
  }
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: { openapi: '3.1.0', info: { title: 'Token Vault', version: '1' } },
    transform: jsonSchemaTransform,
  });
}

const LISTENER_INFO = {
  public: 'public listener (HTTPS, default port 8443)',
  internal: 'internal listener (HTTPS with a required client certificate, default port 9443)',
} as const;

/** Fastify's wildcard (`/forward/:provider/*`) is a parameter named `*`, which OpenAPI cannot name in a path template. */
const WILDCARD = { name: 'path', description: 'The rest of the path, passed on as it is (after the checks of src/forward/).' };

const words = (path: string) =>
  path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1));

/** `get /admin/kill-switches/{scope}/{target}` → `getAdminKillSwitchesScopeTarget`, unless the route names its own. */
const operationId = (method: string, path: string) => method + words(path).join('');

function operationOf(name: 'public' | 'internal', method: string, path: string, operation: Json): Json {
  const op: Json = { operationId: operationId(method, path), ...operation };
  // Routes on the public listener need no credential (pages authenticate with their own session).
  op.security = name === 'internal' ? [{ mutualTLS: [] }] : [];
  const relayed = op['x-relayed-answer'];
  if (typeof relayed === 'string') {
    delete op['x-relayed-answer'];
    op.responses = { '2XX': { description: relayed }, ...(op.responses as Json) };
  }
  if (Array.isArray(op.parameters)) {
    op.parameters = op.parameters.map((p: Json) => (p.in === 'path' && p.name === '*' ? { ...p, ...WILDCARD } : p));
  }
  return op;
}

/** One document for both listeners; each path says which listener serves it. */
export function openapiDocument(listeners: { public: FastifyInstance; internal: FastifyInstance }): Json {
  const paths: Record<string, Json> = {};
  for (const name of ['public', 'internal'] as const) {
    const doc = listeners[name].swagger() as { paths?: Record<string, Json> };
    for (const [rawPath, item] of Object.entries(doc.paths ?? {})) {
      const path = rawPath.replace('{*}', `{${WILDCARD.name}}`);
      const target = (paths[path] ??= { 'x-listeners': [] });
      (target['x-listeners'] as string[]).push(name);
      for (const [method, operation] of Object.entries(item)) {
        // The same route on both listeners: keep the public one, which needs no client certificate.
        target[method] ??= operationOf(name, method, path, operation as Json);
      }
    }
  }
  const sorted = Object.fromEntries(
    Object.keys(paths)
      .sort()
      .map((p) => [p, paths[p]]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Token Vault',
      version: '1',
      summary: 'Keeps users’ OAuth refresh tokens and issues single-operation tokens to agent gateways',
      description: 'Token exchange (RFC 8693) for AI agent gateways over mTLS. Generated from the route schemas by `npm run openapi`; do not edit by hand.',
    },
    servers: [
      {
        url: 'https://{publicHost}:8443',
        description: LISTENER_INFO.public,
        variables: { publicHost: { default: 'vault.internal', description: 'the public name of the vault' } },
      },
      {
        url: 'https://{internalHost}:9443',
        description: LISTENER_INFO.internal,
        variables: { internalHost: { default: 'vault.internal', description: 'the name gateways and admins reach the vault by' } },
      },
    ],
    components: {
      securitySchemes: {
        mutualTLS: { type: 'mutualTLS', description: 'Client certificate from the configured gateway or admin CA with an allowlisted identity.' },
      },
    },
    paths: sorted,
  };
}

export function openapiYaml(listeners: { public: FastifyInstance; internal: FastifyInstance }): string {
  return stringify(openapiDocument(listeners), { lineWidth: 0, sortMapEntries: false });
}
