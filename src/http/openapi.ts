/**
 * openapi.yaml is generated from the route schemas of both listeners
 * (@fastify/swagger + fastify-type-provider-zod) and merged into one document.
 * `npm run openapi` writes it; a test keeps the committed file in sync.
 */
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { stringify } from 'yaml';

type Json = Record<string, unknown>;

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

/** One document for both listeners; each path says which listener serves it. */
export function openapiDocument(listeners: { public: FastifyInstance; internal: FastifyInstance }): Json {
  const paths: Record<string, Json> = {};
  for (const name of ['public', 'internal'] as const) {
    const doc = listeners[name].swagger() as { paths?: Record<string, Json> };
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      const target = (paths[path] ??= { 'x-listeners': [] });
      (target['x-listeners'] as string[]).push(name);
      for (const [method, operation] of Object.entries(item)) {
        const op = { ...(operation as Json) };
        if (name === 'internal') op.security = [{ mutualTLS: [] }];
        const existing = target[method] as Json | undefined;
        // The same route on both listeners: keep one operation, requiring mTLS only where both do.
        target[method] = existing && !existing.security ? existing : op;
        if (existing && !existing.security) delete (target[method] as Json).security;
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
      description: 'Token exchange (RFC 8693) for AI agent gateways over mTLS. Generated from the route schemas by `npm run openapi`; do not edit by hand.',
    },
    servers: [
      { url: 'https://vault.example.com:8443', description: LISTENER_INFO.public },
      { url: 'https://vault.internal.example.com:9443', description: LISTENER_INFO.internal },
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
