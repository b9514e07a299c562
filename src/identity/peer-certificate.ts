/**
 * mTLS peer identity for the internal listener.
 *
 * The TLS layer already refuses unknown CAs (`rejectUnauthorized: true`), but a
 * TLS 1.3 session resumed without a certificate can still report `authorized`
 * with an empty peer certificate (nodejs/node#35317), so every request checks
 * that a certificate is present, chains to the CA of the role it claims, and
 * carries an allowlisted identity.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { TLSSocket, PeerCertificate, DetailedPeerCertificate } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { InvalidClient } from '../errors.js';

/**
 * `console`: an admin-console certificate (admin CA, `admins.consoles`) that has no
 * rights of its own; admin routes accept it only together with an admin JWT.
 */
export type PeerRole = 'gateway' | 'admin' | 'console';

export interface PeerIdentity {
  /** SPIFFE id (single URI SAN) or else the subject CN. */
  id: string;
  role: PeerRole;
  /** RFC 8705 `x5t#S256`: base64url SHA-256 of the certificate DER. */
  thumbprint: string;
}

export interface TrustPolicy {
  gatewayCaFingerprints: ReadonlySet<string>;
  adminCaFingerprints: ReadonlySet<string>;
  gateways: ReadonlySet<string>;
  admins: ReadonlySet<string>;
  consoles: ReadonlySet<string>;
}

/** SHA-256 fingerprints (Node's colon-hex format) of every certificate in a PEM bundle. */
export function bundleFingerprints(pemBundle: string): Set<string> {
  const blocks = pemBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return new Set(blocks.map((pem) => new X509Certificate(pem).fingerprint256));
}

/**
 * Identity from a certificate: exactly one URI SAN (SPIFFE X.509-SVID rule), else the CN.
 * More than one URI SAN is ambiguous and yields no identity.
 */
export function certificateIdentity(cert: Pick<PeerCertificate, 'subjectaltname' | 'subject'>): string | null {
  const uris = (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  if (uris.length > 1) return null;
  if (uris.length === 1) return uris[0] ?? null;
  const cn = cert.subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

/** Fingerprints of every certificate in the verified chain, leaf to root. */
function chainFingerprints(leaf: DetailedPeerCertificate): string[] {
  const out: string[] = [];
  let node: DetailedPeerCertificate | undefined = leaf;
  while (node && node.fingerprint256 && !out.includes(node.fingerprint256)) {
    out.push(node.fingerprint256);
    node = node.issuerCertificate;
  }
  return out;
}

function anchoredIn(chain: string[], anchors: ReadonlySet<string>): boolean {
  // The leaf itself is never a trust anchor.
  return chain.slice(1).some((fp) => anchors.has(fp));
}

/** Resolved identities per connection: the certificate of a TLS connection cannot change. */
const bySocket = new WeakMap<TLSSocket, PeerIdentity[] | null>();

function resolve(socket: TLSSocket, policy: TrustPolicy): PeerIdentity[] | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw || cert.raw.length === 0) return null;
  const id = certificateIdentity(cert);
  if (!id) return null;
  const chain = chainFingerprints(cert);
  const thumbprint = createHash('sha256').update(cert.raw).digest('base64url');
  const roles: PeerIdentity[] = [];
  if (policy.gateways.has(id) && anchoredIn(chain, policy.gatewayCaFingerprints)) roles.push({ id, role: 'gateway', thumbprint });
  if (policy.admins.has(id) && anchoredIn(chain, policy.adminCaFingerprints)) roles.push({ id, role: 'admin', thumbprint });
  if (policy.consoles.has(id) && anchoredIn(chain, policy.adminCaFingerprints)) roles.push({ id, role: 'console', thumbprint });
  return roles;
}

/**
 * The verified peer for this request in the given role, or an `invalid_client` error.
 * Called on every request of the internal listener.
 */
export function peerFor(request: FastifyRequest, policy: TrustPolicy, accepted: readonly PeerRole[]): PeerIdentity {
  const socket = request.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') throw new InvalidClient('not a TLS connection');
  let roles = bySocket.get(socket);
  if (roles === undefined) {
    roles = resolve(socket, policy);
    // Only cache positive results on a verified connection; a resumed session without a certificate re-checks.
    if (roles !== null) bySocket.set(socket, roles);
  }
  if (roles === null) throw new InvalidClient('no verified client certificate');
  const match = roles.find((r) => accepted.includes(r.role));
  if (!match) throw new InvalidClient('certificate identity not allowed for this route');
  return match;
}
