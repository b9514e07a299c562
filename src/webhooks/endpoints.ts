/**
 * The configured webhook endpoints with their signing keys and CAs read from files, checked at
 * boot: every unreadable or malformed file is reported at once, naming the file, never its bytes.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { KeyMaterialError, readSecretFile } from '../crypto/key-files.js';
import type { WebhookEventType } from './events.js';
import { parseWebhookSecret } from './signature.js';

export interface WebhookEndpoint {
  name: string;
  url: string;
  events: ReadonlySet<WebhookEventType>;
  /** The HMAC key decoded from the `whsec_` secret. */
  key: Buffer;
  ca?: string;
  allowPrivateNetwork: boolean;
}

export async function loadWebhookEndpoints(config: Config['webhooks'], problems: string[]): Promise<WebhookEndpoint[]> {
  const endpoints: WebhookEndpoint[] = [];
  for (const [i, endpoint] of config.endpoints.entries()) {
    const field = `webhooks.endpoints.${i}`;
    let key: Buffer | undefined;
    try {
      const parsed = parseWebhookSecret(await readSecretFile(endpoint.secretFile));
      if ('problem' in parsed) problems.push(`${field}.secretFile: ${endpoint.secretFile}: ${parsed.problem}`);
      else key = parsed.key;
    } catch (err) {
      if (!(err instanceof KeyMaterialError)) throw err;
      problems.push(...err.problems.map((p) => `${field}.secretFile: ${p}`));
    }
    let ca: string | undefined;
    if (endpoint.caFile !== undefined) {
      ca = await readFile(endpoint.caFile, 'utf8').catch(() => undefined);
      if (ca === undefined || !ca.includes('-----BEGIN CERTIFICATE-----')) problems.push(`${field}.caFile: ${endpoint.caFile}: not a readable PEM certificate`);
    }
    if (key === undefined) continue;
    endpoints.push({
      name: endpoint.name,
      url: endpoint.url,
      events: new Set(endpoint.events),
      key,
      ...(ca !== undefined && { ca }),
      allowPrivateNetwork: endpoint.allowPrivateNetwork,
    });
  }
  return endpoints;
}
