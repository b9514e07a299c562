/**
 * The hand-written operation-token verifier (tokens/operation-token.ts) held
 * to jose's jwtVerify with the same keys, alg allowlist, typ, issuer, required
 * claims and clock tolerance: both accept every token of the format with equal
 * payloads, and over tampered and malformed tokens (most of them signed again
 * with the vault's real key, so the signature is not what refuses them) the
 * hand-written one never accepts what jose refuses.
 */
import { createHmac, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { importSigningKey, SigningKeys, type SigningKey } from '../../../src/crypto/signing-keys.js';
import { derToRawEcdsa } from '../../../src/tokens/ecdsa-signature.js';
import { mintOperationToken, OperationTokenRejected, verifyOperationToken, type OperationTokenPayload } from '../../../src/tokens/operation-token.js';

const ISSUER = 'https://vault.test';
const SKEW = 30;
const NOW = Math.floor(Date.now() / 1000);
const REQUIRED = ['iss', 'sub', 'aud', 'jti', 'iat', 'exp', 'scope', 'act', 'cnf', 'client_id'];
const RULES = { issuer: ISSUER, clockSkewSeconds: SKEW, now: NOW };
const VALID_RUNS = 1_000;
const MALFORMED_RUNS = 3_000;

const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519')).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

let ed: SigningKey, ec: SigningKey, strangers: SigningKey[], keys: SigningKeys;
let jose: (token: string) => Promise<Record<string, unknown>>;

beforeAll(async () => {
  [ed, ec, ...strangers] = (await Promise.all([pem('ed25519'), pem('ec'), pem('ed25519'), pem('ec')].map(importSigningKey))) as [
    SigningKey,
    SigningKey,
    ...SigningKey[],
  ];
  // The active key signs; the previous one still verifies (SigningKeys.get), as after a rotation.
  keys = new SigningKeys(ed, [ec]);
  const jwks = createLocalJWKSet(keys.jwks());
  const options = {
    issuer: ISSUER,
    typ: 'at+jwt',
    algorithms: ['EdDSA', 'ES256'],
    requiredClaims: REQUIRED,
    clockTolerance: SKEW,
    currentDate: new Date(NOW * 1000),
  };
  jose = async (token) => (await jwtVerify(token, jwks, options)).payload as Record<string, unknown>;
});

type Part = string | Buffer | object;
const b64 = (part: Part) => (Buffer.isBuffer(part) ? part : Buffer.from(typeof part === 'string' ? part : JSON.stringify(part))).toString('base64url');

function signature(key: SigningKey, input: string): string {
  const data = Buffer.from(input);
  const privateKey = KeyObject.from(key.privateKey);
  return (key.alg === 'EdDSA' ? sign(null, data, privateKey) : derToRawEcdsa(sign('sha256', data, privateKey), 32)).toString('base64url');
}

/** A compact JWS over encoded parts taken as they are (`raw`) or encoded here, signed with `key`. */
function jws(key: SigningKey, header: Part, payload: Part, raw = false): string {
  const input = raw ? `${header as string}.${payload as string}` : `${b64(header)}.${b64(payload)}`;
  return `${input}.${signature(key, input)}`;
}

/** A JSON object's text with members appended as raw JSON text (a repeated name is a duplicate key). */
const withRaw = (value: object, members: string) => `${JSON.stringify(value).slice(0, -1)}${Object.keys(value).length > 0 ? ',' : ''}${members}}`;

const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 });
const bytes64 = (length: number) => fc.uint8Array({ minLength: length, maxLength: length }).map((b) => Buffer.from(b).toString('base64url'));

/** Times of a token still valid at NOW: issued at most `SKEW` ahead, expiring after NOW - SKEW, living at most 15 minutes. */
const timesArb = fc
  .integer({ min: NOW - 800, max: NOW + SKEW })
  .chain((iat) => fc.integer({ min: Math.max(iat + 1, NOW - SKEW + 1), max: iat + 900 }).map((exp) => ({ iat, exp })));

/** RFC 9396 details as exchange/target.ts accepts them: the provider as type, the operation by its short or full name. */
const detailArb = fc.record(
  { fullName: fc.boolean(), locations: fc.array(fc.webUrl(), { maxLength: 4 }), identifier: fc.string({ minLength: 1, maxLength: 128 }) },
  { requiredKeys: ['fullName'] },
);

/** A payload within the format: what /exchange could have minted, still valid at NOW. */
const payloadArb = fc
  .record({
    aud: fc.stringMatching(/^[a-z][a-z0-9-]{0,39}$/),
    local: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,63}$/),
    sub: text,
    agent: text,
    gateway: text,
    jti: bytes64(16),
    x5t: bytes64(32),
    times: timesArb,
    detail: fc.option(detailArb, { nil: undefined }),
  })
  .map(({ aud, local, sub, agent, gateway, jti, x5t, times, detail }): OperationTokenPayload => {
    const scope = `${aud}:${local}`;
    const { fullName, ...rest } = detail ?? { fullName: false };
    return {
      iss: ISSUER,
      sub,
      aud,
      jti,
      ...times,
      scope,
      ...(detail ? { authorization_details: [{ type: aud, actions: [fullName ? scope : local], ...rest }] } : {}),
      act: { sub: agent },
      cnf: { 'x5t#S256': x5t },
      client_id: gateway,
    };
  });

const signerArb = fc.constantFrom<'ed' | 'ec'>('ed', 'ec');
const keyOf = (which: 'ed' | 'ec') => (which === 'ed' ? ed : ec);
const headerOf = (key: SigningKey) => ({ alg: key.alg, kid: key.kid, typ: 'at+jwt' });

interface Base {
  key: SigningKey;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The valid token's three parts. */
  parts: [string, string, string];
}

const baseArb = fc.tuple(payloadArb, signerArb).map(([payload, which]): Base => {
  const key = keyOf(which);
  const header = headerOf(key);
  return { key, header, payload: { ...payload }, parts: jws(key, header, payload).split('.') as [string, string, string] };
});

/** A token built from a valid one, and whether it is outside the format for sure (then the hand-written verifier must refuse it). */
interface Case {
  token: string;
  mustRefuse: boolean;
}

const resigned = (b: Base, header: Part, payload: Part, mustRefuse = true): Case => ({ token: jws(b.key, header, payload), mustRefuse });
const omit = (value: Record<string, unknown>, name: string) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== name));
const partArb = fc.constantFrom(0, 1, 2);
const TYPS = ['JWT', 'at+JWT', 'AT+JWT', 'application/at+jwt', 'application/AT+JWT', 'at+jwt ', ' at+jwt', '', 'jwt', 42, null, ['at+jwt'], undefined];
/** JSON number texts (and near misses) for NumericDate claims. */
const NUMBERS = [
  '1e400',
  '-1e400',
  '1e308',
  '9007199254740993',
  '1.5',
  `${NOW}.5`,
  '-0',
  '1e-400',
  `"${NOW + 60}"`,
  '0x10',
  'NaN',
  'Infinity',
  `${NOW + 60}.0`,
];
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const mutations: Record<string, fc.Arbitrary<Case>> = {
  // Signed again after a header or payload flip, the damaged bytes reach the parsers and the claim rules.
  'bit flip': fc.tuple(baseArb, partArb, fc.nat(), fc.nat(7), fc.boolean()).map(([b, part, at, bit, resign]) => {
    const parts = [...b.parts];
    const bytes = Buffer.from(parts[part]!, 'base64url');
    const i = at % bytes.length;
    bytes[i] = bytes[i]! ^ (1 << bit);
    parts[part] = bytes.toString('base64url');
    if (resign && part < 2) return { token: jws(b.key, parts[0]!, parts[1]!, true), mustRefuse: false };
    return { token: parts.join('.'), mustRefuse: true };
  }),
  'character swap': fc.tuple(baseArb, partArb, fc.nat(), fc.nat(63), fc.boolean()).map(([b, part, at, to, resign]) => {
    const parts = [...b.parts];
    const i = at % parts[part]!.length;
    const changed = parts[part]![i] !== B64URL[to];
    parts[part] = parts[part]!.slice(0, i) + B64URL[to]! + parts[part]!.slice(i + 1);
    if (resign && part < 2) return { token: jws(b.key, parts[0]!, parts[1]!, true), mustRefuse: false };
    return { token: parts.join('.'), mustRefuse: changed };
  }),
  alg: fc
    .tuple(baseArb, fc.constantFrom<unknown>('none', 'HS256', 'other', 'Ed25519', 'ES384', 'eddsa', 'RS256', 'PS256', '', null, 42, undefined), fc.boolean())
    .map(([b, alg, withSignature]) => {
      const [, p, s] = b.parts;
      if (alg === 'none') return { token: `${b64({ ...b.header, alg })}.${p}.${withSignature ? s : ''}`, mustRefuse: true };
      if (alg === 'HS256') {
        // The public key as the HMAC secret: the classic RS/HS confusion, here with the JWK or the SPKI PEM.
        const h = b64({ ...b.header, alg });
        const secret = withSignature
          ? JSON.stringify(b.key.publicJwk)
          : createPublicKey(KeyObject.from(b.key.privateKey)).export({ type: 'spki', format: 'pem' });
        return { token: `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`, mustRefuse: true };
      }
      if (alg === 'other') {
        // The other vault key's alg and signature under this key's kid.
        const other = b.key === ed ? ec : ed;
        return resigned({ ...b, key: other }, { ...b.header, alg: other.alg }, b.payload);
      }
      return resigned(b, alg === undefined ? omit(b.header, 'alg') : { ...b.header, alg }, b.payload);
    }),
  typ: fc
    .tuple(baseArb, fc.constantFrom<unknown>(...TYPS))
    .map(([b, typ]) => resigned(b, typ === undefined ? omit(b.header, 'typ') : { ...b.header, typ }, b.payload)),
  segments: fc.tuple(baseArb, fc.nat(11)).map(([b, form]) => {
    const [h, p, s] = b.parts;
    const forms = [
      `${h}.${p}`,
      `${h}.${p}.${s}.`,
      `${h}.${p}.${s}.${s}`,
      `${h}..${p}.${s}`,
      `.${h}.${p}.${s}`,
      `${p}.${s}`,
      `${h}${p}.${s}`,
      '',
      '..',
      `${h}.${p}.`,
      `${h}..${s}`,
      `.${p}.${s}`,
    ];
    return { token: forms[form]!, mustRefuse: true };
  }),
  'characters outside base64url': fc
    .tuple(
      baseArb,
      partArb,
      fc.nat(),
      fc.constantFrom('+', '/', '=', ' ', '\n', '\t', '\r', '%', '!', 'é', '\u0000', '~', '*', '\u2028', '\uFEFF', '"'),
      fc.boolean(),
    )
    .map(([b, part, at, char, resign]) => {
      const parts = [...b.parts];
      const i = at % (parts[part]!.length + 1);
      parts[part] = parts[part]!.slice(0, i) + char + parts[part]!.slice(i);
      return { token: resign && part < 2 ? jws(b.key, parts[0]!, parts[1]!, true) : parts.join('.'), mustRefuse: true };
    }),
  padding: fc.tuple(baseArb, partArb, fc.integer({ min: 1, max: 3 })).map(([b, part, n]) => {
    const parts = [...b.parts];
    parts[part] += '='.repeat(n);
    return { token: part < 2 ? jws(b.key, parts[0]!, parts[1]!, true) : parts.join('.'), mustRefuse: true };
  }),
  whitespace: fc.tuple(baseArb, fc.constantFrom(' ', '\n', '\t', '\r\n'), fc.constantFrom('before', 'after', 'inside JSON')).map(([b, space, where]) => {
    const token = b.parts.join('.');
    if (where === 'before') return { token: space + token, mustRefuse: true };
    if (where === 'after') return { token: token + space, mustRefuse: true };
    // JSON whitespace between members is still the same JSON (RFC 8259 §2).
    return resigned(b, JSON.stringify(b.header, null, space), JSON.stringify(b.payload, null, space), false);
  }),
  'duplicate member': fc
    .tuple(
      baseArb,
      fc.constantFrom(
        ['header', 'alg', '"none"'],
        ['header', 'typ', '"JWT"'],
        ['header', 'kid', '"x"'],
        ['payload', 'iss', '"https://evil.test"'],
        ['payload', 'exp', `${NOW - 3600}`],
        ['payload', 'sub', '42'],
        ['payload', 'cnf', '{}'],
        ['payload', 'scope', '"x:y"'],
      ),
      fc.boolean(),
    )
    .map(([b, [where, name, bad], badLast]) => {
      // JSON.parse keeps the last of two members with one name (RFC 7515 §5.2 allows that reading).
      const dup = (value: Record<string, unknown>) =>
        badLast ? withRaw(value, `"${name!}":${bad!}`) : `{"${name!}":${bad!},${JSON.stringify(value).slice(1)}`;
      return resigned(b, where === 'header' ? dup(b.header) : b.header, where === 'payload' ? dup(b.payload) : b.payload, badLast);
    }),
  'time outside the window': fc
    .tuple(
      baseArb,
      fc.oneof(
        fc.integer({ min: NOW - 100_000, max: NOW - SKEW }).map((exp) => ({ exp })),
        fc.integer({ min: NOW + SKEW + 1, max: NOW + 100_000 }).map((nbf) => ({ nbf })),
        fc.integer({ min: NOW + SKEW + 1, max: NOW + 100_000 }).map((iat) => ({ iat, exp: iat + 60 })),
        fc.constantFrom({ exp: NOW - SKEW }, { nbf: NOW + SKEW + 1 }, { iat: NOW + SKEW + 1, exp: NOW + SKEW + 2 }),
      ),
    )
    .map(([b, times]) => resigned(b, b.header, { ...b.payload, ...times })),
  issuer: fc
    .tuple(baseArb, fc.oneof(text, fc.constantFrom<unknown>(`${ISSUER}/`, ISSUER.toUpperCase(), 'http://vault.test', [ISSUER], null, 1, undefined)))
    .map(([b, iss]) => resigned(b, b.header, iss === undefined ? omit(b.payload, 'iss') : { ...b.payload, iss })),
  'signed by another key': fc.tuple(baseArb, fc.nat(1), fc.boolean()).map(([b, i, ownKid]) => {
    const stranger = strangers[i]!;
    return resigned({ ...b, key: stranger }, { ...headerOf(stranger), kid: ownKid ? (stranger.alg === ed.alg ? ed : ec).kid : stranger.kid }, b.payload);
  }),
  kid: fc.tuple(baseArb, fc.oneof(text, fc.constantFrom<unknown>('', 42, null, ['kid'], undefined, 'other vault key'))).map(([b, kid]) => {
    const value = kid === 'other vault key' ? (b.key === ed ? ec : ed).kid : kid;
    return resigned(b, value === undefined ? omit(b.header, 'kid') : { ...b.header, kid: value }, b.payload);
  }),
  'not a JSON object': fc
    .tuple(baseArb, fc.boolean(), fc.constantFrom('[]', '"x"', '42', 'null', 'true', '[{}]', '', '{', '{"a":1}x', 'BOM', 'not UTF-8', 'array of the object'))
    .map(([b, inHeader, form]) => {
      const value = inHeader ? b.header : b.payload;
      const json = JSON.stringify(value);
      const replaced: Part =
        form === 'BOM'
          ? `\uFEFF${json}`
          : form === 'not UTF-8'
            ? Buffer.concat([Buffer.from(json.slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')])
            : form === 'array of the object'
              ? [value]
              : form;
      return resigned(b, inHeader ? replaced : b.header, inHeader ? b.payload : replaced);
    }),
  'numbers out of range': fc.tuple(baseArb, fc.constantFrom('exp', 'iat', 'nbf'), fc.constantFrom(...NUMBERS)).map(([b, claim, raw]) => {
    // Whole seconds spelled otherwise (`-0`, `1e-400`, `N.0`) are still whole seconds; a past nbf is no refusal.
    const sameNumber = raw === '-0' || raw === '1e-400' || raw.endsWith('.0');
    return resigned(b, b.header, withRaw(omit(b.payload, claim), `"${claim}":${raw}`), claim !== 'nbf' && !sameNumber);
  }),
  'claim missing or of any JSON value': fc
    .tuple(baseArb, fc.constantFrom(...REQUIRED, 'authorization_details', 'nbf'), fc.option(fc.jsonValue(), { nil: undefined }))
    .map(([b, claim, value]) =>
      resigned(b, b.header, value === undefined ? omit(b.payload, claim) : { ...b.payload, [claim]: value }, value === undefined && REQUIRED.includes(claim)),
    ),
  'header extensions': fc
    .tuple(
      baseArb,
      fc.constantFrom<[Record<string, unknown>, boolean]>(
        [{ crit: ['b64'], b64: false }, true],
        [{ crit: ['b64'], b64: true }, true],
        [{ crit: ['exp'] }, true],
        [{ crit: [] }, true],
        [{ crit: 'b64' }, true],
        [{ jku: 'https://evil.test/jwks' }, false],
        [{ x5u: 'https://evil.test/cert' }, false],
        [{ cty: 'JWT' }, false],
        [{ zip: 'DEF' }, false],
        [{ jwk: 'stranger' }, false],
      ),
    )
    .map(([b, [extra, mustRefuse]]) => {
      // An embedded key is never used: only the vault's own keys verify (RFC 8725 §3.1).
      const members = extra.jwk ? { jwk: strangers[0]!.publicJwk } : extra;
      return resigned(b, { ...b.header, ...members }, b.payload, mustRefuse);
    }),
  garbage: fc
    .oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.array(fc.base64String(), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.')),
      fc.array(bytes64(64), { minLength: 3, maxLength: 3 }).map((parts) => parts.join('.')),
    )
    .map((token) => ({ token, mustRefuse: true })),
};

describe('the operation-token verifier against jose', () => {
  it('both accept every token of the format, with equal payloads', async () => {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(payloadArb, signerArb, fc.boolean(), async (payload, which, viaMint) => {
        let token = jws(keyOf(which), headerOf(keyOf(which)), payload);
        if (viaMint && which === 'ed') {
          // The real mint, with the same claims (it draws its own jti).
          const detail = payload.authorization_details?.[0];
          const minted = mintOperationToken(keys, {
            issuer: ISSUER,
            userId: payload.sub,
            agent: payload.act.sub,
            provider: payload.aud,
            operation: payload.scope,
            ...(detail ? { detail } : {}),
            gateway: payload.client_id,
            certThumbprint: payload.cnf['x5t#S256'],
            issuedAt: payload.iat,
            expiresAt: payload.exp,
          });
          ({ token } = minted);
          payload = { ...payload, jti: minted.jti };
        }
        const ours = verifyOperationToken(token, keys, RULES);
        expect(ours).toStrictEqual(await jose(token));
        expect(ours).toStrictEqual(payload);
      }),
      { numRuns: VALID_RUNS },
    );
    console.log(`valid tokens: ${VALID_RUNS} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it('over tampered and malformed tokens, accepts only what jose accepts', async () => {
    const started = performance.now();
    const tally = new Map<string, { cases: number; accepted: number }>();
    const cases = fc.oneof(...Object.entries(mutations).map(([name, arb]) => arb.map((c) => ({ ...c, name }))));
    await fc.assert(
      fc.asyncProperty(cases, async ({ name, token, mustRefuse }) => {
        let ours: OperationTokenPayload | undefined;
        try {
          ours = verifyOperationToken(token, keys, RULES);
        } catch (err) {
          expect(err, name).toBeInstanceOf(OperationTokenRejected);
        }
        const count = tally.get(name) ?? { cases: 0, accepted: 0 };
        tally.set(name, { cases: count.cases + 1, accepted: count.accepted + (ours ? 1 : 0) });
        if (mustRefuse) expect(ours, name).toBeUndefined();
        // jose returns every claim; the hand-written verifier the ones of the format, with the same values.
        if (ours) expect(await jose(token).catch(() => 'refused by jose'), name).toMatchObject(ours);
      }),
      { numRuns: MALFORMED_RUNS },
    );
    expect([...tally.keys()].sort()).toStrictEqual(Object.keys(mutations).sort());
    const accepted = [...tally].map(([name, { cases, accepted }]) => `${name} ${accepted}/${cases}`).join(', ');
    console.log(`malformed tokens: ${MALFORMED_RUNS} cases in ${Math.round(performance.now() - started)} ms; accepted by both: ${accepted}`);
  });
});
