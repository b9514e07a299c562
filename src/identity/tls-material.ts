/**
 * Certificates and keys for the two HTTPS listeners, read once at boot.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { bundleFingerprints } from './peer-certificate.js';
import type { TrustPolicy } from './peer-certificate.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  gatewayCa: string;
  adminCa: string;
}

export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError';
  readonly code = 'TV_TLS_MATERIAL_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid TLS material:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function readPem(path: string, field: string, kind: 'cert' | 'key', problems: string[]): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    problems.push(`${field}: cannot read ${path}`);
    return '';
  }
  try {
    if (kind === 'cert') new X509Certificate(text);
    else createPrivateKey(text);
  } catch {
    problems.push(`${field}: ${path} is not a valid PEM ${kind === 'cert' ? 'certificate' : 'private key'}`);
  }
  return text;
}

export function loadTlsMaterial(config: Config): TlsMaterial {
  const problems: string[] = [];
  const material = {
    cert: readPem(config.tls.cert, 'tls.cert', 'cert', problems),
    key: readPem(config.tls.key, 'tls.key', 'key', problems),
    gatewayCa: readPem(config.tls.gatewayCa, 'tls.gatewayCa', 'cert', problems),
    adminCa: config.tls.adminCa ? readPem(config.tls.adminCa, 'tls.adminCa', 'cert', problems) : '',
  };
  if (problems.length > 0) throw new TlsMaterialError(problems);
  if (!material.adminCa) material.adminCa = material.gatewayCa;
  return material;
}

export function trustPolicy(config: Config, tls: TlsMaterial): TrustPolicy {
  return {
    gatewayCaFingerprints: bundleFingerprints(tls.gatewayCa),
    adminCaFingerprints: bundleFingerprints(tls.adminCa),
    gateways: new Set(config.gateways.allow),
    admins: new Set(config.admins.allow),
    consoles: new Set(config.admins.consoles),
  };
}
