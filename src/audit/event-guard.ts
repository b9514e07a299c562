import { AUDIT_ACTIONS, AUDIT_DECISIONS, type AuditAction, type AuditDecision, type AuditEventInput } from './events.js';
import { AuditEventError } from './errors.js';

/**
 * Defensive checks on every event before it enters the chain, which is
 * append-only and kept forever: a secret written there cannot be taken back.
 * Callers must pass HMACs and ids; these checks catch the obvious mistakes
 * (a JWT, a long opaque blob, a raw token in `tokenHmac`, an unexpected field
 * spread in from a request object). Error messages name the field only.
 */
const ACTIONS: ReadonlySet<AuditAction> = new Set<AuditAction>(AUDIT_ACTIONS);
const DECISIONS: ReadonlySet<AuditDecision> = new Set<AuditDecision>(AUDIT_DECISIONS);
const STRING_FIELDS = ['reason', 'requestId', 'traceId', 'gateway', 'agent', 'user', 'provider', 'grant', 'operation', 'actor', 'jti'] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(['action', 'decision', 'tokenHmac', 'details', ...STRING_FIELDS]);

/** Reasons and ids are short; anything longer is more likely a token or a body than an id. */
export const MAX_FIELD_CHARS = 512;
const MAX_DETAILS = 32;
/** A compact JWS/JWE anywhere in the value (the header is base64url JSON, so it starts `eyJ`). */
const JWT_LIKE = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
/** What tokenHmac() produces: 32 bytes, base64url. */
const TOKEN_HMAC = /^[\w-]{43}$/;

function checkString(field: string, value: unknown): void {
  if (typeof value !== 'string') throw new AuditEventError(`audit field ${field} must be a string`);
  if (value.length > MAX_FIELD_CHARS) throw new AuditEventError(`audit field ${field} is too long to be an id or reason`);
  if (JWT_LIKE.test(value)) throw new AuditEventError(`audit field ${field} looks like a JWT`);
}

/** Throws AuditEventError unless the event is safe to write. */
export function assertAuditEvent(event: AuditEventInput): void {
  if (typeof event !== 'object' || event === null) throw new AuditEventError('audit event must be an object');
  for (const key of Object.keys(event)) {
    if (!KNOWN_FIELDS.has(key)) throw new AuditEventError(`audit event has an unknown field ${key}`);
  }
  if (!ACTIONS.has(event.action)) throw new AuditEventError('audit field action is not a known action');
  if (!DECISIONS.has(event.decision)) throw new AuditEventError('audit field decision is not a known decision');
  for (const field of STRING_FIELDS) {
    const value = event[field];
    if (value !== undefined) checkString(field, value);
  }
  if (event.tokenHmac !== undefined && (typeof event.tokenHmac !== 'string' || !TOKEN_HMAC.test(event.tokenHmac))) {
    throw new AuditEventError('audit field tokenHmac must be a tokenHmac() value');
  }
  if (event.details !== undefined) assertDetails(event.details);
}

function assertDetails(details: unknown): void {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw new AuditEventError('audit field details must be an object');
  }
  const entries = Object.entries(details);
  if (entries.length > MAX_DETAILS) throw new AuditEventError('audit field details has too many entries');
  for (const [key, value] of entries) {
    checkString('details key', key);
    if (typeof value === 'string') checkString(`details.${key}`, value);
    // NaN and Infinity would serialise as null: the record would not say what the caller meant.
    else if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'boolean') {
      throw new AuditEventError(`audit field details.${key} must be a string, finite number or boolean`);
    }
  }
}
