/**
 * A small X.509 PKI for dev mode and tests (RFC 5280 profile, ECDSA P-256).
 *
 * Never used in production: there, certificates come from the organisation's
 * PKI (e.g. SPIFFE X.509-SVIDs for gateways).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
// Tolerates clock skew between the machine that issues and the one that verifies.
const BACKDATE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** A CA that can issue certificates (self-signed root or intermediate). */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

/** An issued certificate and its private key. */
export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM (RFC 5958). */
  readonly keyPem: string;
  /** DER of the certificate, base64 (as in an `x5c` member, RFC 7517 §4.7). */
  readonly derBase64: string;
  readonly cert: x509.X509Certificate;
}

/** Options of {@link createCa}. */
export interface CaOptions {
  readonly commonName: string;
  /** Signs the new CA as an intermediate; self-signed when absent. */
  readonly issuer?: CertificateAuthority;
  /** RFC 5280 §4.2.1.9 pathLenConstraint. */
  readonly pathLength?: number;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** Options of {@link issueCert}. */
export interface LeafOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** URI SANs, e.g. a SPIFFE id `spiffe://trust-domain/path`. */
  readonly uris?: readonly string[];
  readonly serverAuth?: boolean;
  readonly clientAuth?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** Creates a CA: basicConstraints cA=TRUE, keyUsage keyCertSign + cRLSign (RFC 5280 §4.2.1.3, §4.2.1.9). */
export async function createCa(options: CaOptions): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 10 * 365 * DAY_MS);
  const name = distinguishedName(options.commonName);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, options.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  let cert: x509.X509Certificate;
  if (options.issuer === undefined) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey));
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions,
    });
  } else {
    cert = await sign(options.issuer, name, keys.publicKey, notBefore, notAfter, extensions);
  }
  return { certPem: cert.toString('pem'), keyPem: await toPkcs8Pem(keys.privateKey), cert, privateKey: keys.privateKey };
}

/** Issues an end-entity certificate signed by `ca`, with SANs and extended key usages (RFC 5280 §4.2.1.6, §4.2.1.12). */
export async function issueCert(ca: CertificateAuthority, options: LeafOptions): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS);
  const sans: x509.JsonGeneralNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => {
      if (isIP(value) === 0) throw new TypeError(`not an IP address: ${value}`);
      return { type: 'ip' as const, value };
    }),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const usages: string[] = [];
  if (options.serverAuth === true) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.clientAuth === true) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // ECDHE key exchange means the leaf key only signs (RFC 8446 §4.4.3).
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (usages.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(usages, false));
  // Critical when the subject is empty, which it never is here (RFC 5280 §4.2.1.6).
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await sign(ca, distinguishedName(options.commonName), keys.publicKey, notBefore, notAfter, extensions);
  return {
    certPem: cert.toString('pem'),
    keyPem: await toPkcs8Pem(keys.privateKey),
    derBase64: Buffer.from(cert.rawData).toString('base64'),
    cert,
  };
}

async function sign(
  issuer: CertificateAuthority,
  subject: string,
  publicKey: CryptoKey,
  notBefore: Date,
  notAfter: Date,
  extensions: x509.Extension[],
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: issuer.cert.subject,
    notBefore,
    notAfter,
    publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey)],
  });
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function toPkcs8Pem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

// Positive, at most 20 octets, unpredictable (RFC 5280 §4.1.2.2).
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function distinguishedName(commonName: string): string {
  return `CN=${commonName.replace(/([,+"\\<>;=])/g, '\\$1')}`;
}
