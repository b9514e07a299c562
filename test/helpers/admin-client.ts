/** Calls to the admin API of a test vault with a chosen client certificate. */
import type { TestVault } from './vault.js';
import { call, type ClientCert, type Response } from './https-client.js';

export interface AdminCallOptions {
  method?: string;
  body?: unknown;
  /** Default: the admin certificate; null for none. */
  client?: ClientCert | null;
  bearer?: string;
  headers?: Record<string, string>;
}

/** Any vault with an internal listener and the test PKI: in this process or a child process. */
export type AdminTarget = Pick<TestVault, 'internalUrl' | 'pki'>;

export function adminCall(vault: AdminTarget, path: string, options: AdminCallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  const client = options.client === undefined ? vault.pki.admin : options.client;
  return call(`${vault.internalUrl}${path}`, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    ca: vault.pki.ca,
    ...(client !== null && { client }),
  });
}
