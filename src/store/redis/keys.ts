import { createHash } from 'node:crypto';

/**
 * Key layout (who writes and reads each key: docs/architecture.md#data-model-in-redis).
 * Key names carry only ids and tags, never values.
 *
 * | key                          | type   | TTL        | holds                                     |
 * |------------------------------|--------|------------|-------------------------------------------|
 * | `{g:<grantId>}:grant`        | hash   | none       | grant fields, `c:<agent>` = consent ops, `e:<agent>` = consent epoch |
 * | `{g:<grantId>}:at`           | string | token life | cached upstream access token (JSON)        |
 * | `{g:<grantId>}:tomb`         | string | retention  | tombstone of a retired grant (JSON, no secret) |
 * | `tombstones`                 | zset   | none       | grant id → its tombstone's expiry (ms)     |
 * | `{u:<sha256(userId)>}:tombs` | zset   | none       | one user's tombstoned grant ids → expiry   |
 * | `tok:<jti>`                  | string | token life | `<uses left>:<proof>:<operation-token record JSON>` |
 * | `grants`                     | zset   | none       | every grant id (score 0, lex order)        |
 * | `{u:<sha256(userId)>}:grants`| set    | none       | grant ids of one user                      |
 * | `lock:<name>`                | string | 24 h       | owner, lease end, lapse seen (lock-scripts.ts) |
 * | `{ks}:switches`, `{ks}:epoch`| hash, string | none | kill switches and their epoch            |
 * | `{audit:<i>}:log`, `:head`   | stream, hash | none | audit chain i: hash-chained entries; head (seq, hash, chain count, floor) |
 * | `{audit:<i>}:turn`           | string | ≤ 250 ms   | token of the writer holding chain i's append turn |
 * | `{audit:<i>}:grant:<grantId>`| list   | none       | newest seqs of chain i's entries naming a grant (capped) |
 * | `audit:chains`               | string | none       | the chain count the trail was written under |
 * | `audit:writers`              | zset   | a few s    | live audit writers (score: when each one's time runs out), for sharing the chains |
 * | `{ks}:events`                | channel | -         | pub/sub: kill-switch epoch announcements  |
 * | `job:<name>`                 | string | none       | admin job state (rewrap cursor, JSON)     |
 * | `session:<sha256(id)>`       | string | session    | browser session JSON (no tokens)          |
 * | `once:<sha256(key)>`         | string | ≤ 10 min   | single-use OAuth state (PKCE verifier)     |
 * | `{revq}:items`, `:meta`, `:due` | hash, hash, zset | none | pending upstream revocations     |
 * | `{wh}:items`, `:status`, `:attempts`, `:lease`, `:meta` | hash | none | webhook deliveries by id (ids, no secret) |
 * | `{wh}:due:<endpoint>`        | zset   | none       | one endpoint's pending deliveries → next attempt (ms) |
 * | `{wh}:by:<status>`           | zset   | none       | deliveries by status (`all` too), lex order by creation |
 * | `{apr:<id>}`                 | hash   | expiry + retention | one approval request: record JSON, state, last poll, decision |
 * | `apr-user:<sha256(userId)>`  | zset   | none       | a user's approval request ids → expiry (ms) |
 * | `apr-admin`                  | zset   | none       | admin-approved request ids → expiry (ms)   |
 *
 * All keys of one grant share the hash tag `{g:<id>}` so multi-key scripts stay
 * in one Cluster slot; a user's indexes share `{u:<sha>}`; kill switches `{ks}` (their own slot,
 * so the epoch every exchange confirms is one small read on one shard); revocations `{revq}`.
 * Keys without a tag (`tok:`, `lock:`, `session:`, `once:`, `job:`, the `grants` and
 * `tombstones` indexes) are only ever used one key per command, so any slot will do. Operation-token records live under their own `tok:<jti>`
 * key because `consume(jti)` — the hot path of /forward — knows only the jti and
 * must be one round trip. No index links a grant to its tokens: a token is
 * honoured only together with its live grant (token-store.ts). The user index hashes the user id (`iss` + `sub`, unbounded and
 * possibly personal) to a fixed-length name; session ids and OAuth states are
 * bearer values, so their key names are hashes too (a reader of Redis cannot
 * replay them).
 */
const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The hash tag of one user's keys (`{u:<sha256(userId)>}`): the consent pages read the user's
 * grant and tombstone indexes together, and on Cluster they then come from one node. base64url
 * never contains a brace, so the tag ends where it should.
 */
const userTag = (userId: string) => `{u:${sha256(userId)}}`;

export class RedisKeys {
  constructor(private readonly prefix: string) {}

  grant(grantId: string): string {
    return `${this.prefix}{g:${grantId}}:grant`;
  }

  accessToken(grantId: string): string {
    return `${this.prefix}{g:${grantId}}:at`;
  }

  /** Same hash tag as the grant: retirement writes status and tombstone in one step, also on Cluster. */
  tombstone(grantId: string): string {
    return `${this.prefix}{g:${grantId}}:tomb`;
  }

  tombstoneIndex(): string {
    return `${this.prefix}tombstones`;
  }

  userTombstoneIndex(userId: string): string {
    return `${this.prefix}${userTag(userId)}:tombs`;
  }

  token(jti: string): string {
    return `${this.prefix}tok:${jti}`;
  }

  grantIndex(): string {
    return `${this.prefix}grants`;
  }

  userIndex(userId: string): string {
    return `${this.prefix}${userTag(userId)}:grants`;
  }

  lock(name: string): string {
    return `${this.prefix}lock:${name}`;
  }

  killSwitches(): string {
    return `${this.prefix}{ks}:switches`;
  }

  killEpoch(): string {
    return `${this.prefix}{ks}:epoch`;
  }

  killEvents(): string {
    return `${this.prefix}{ks}:events`;
  }

  adminJob(name: string): string {
    return `${this.prefix}job:${name}`;
  }

  /** Chain `i` of the audit trail: its own hash tag `{audit:<i>}`, so the chains spread over Cluster slots. */
  auditLog(chain: number): string {
    return `${this.prefix}{audit:${chain}}:log`;
  }

  auditHead(chain: number): string {
    return `${this.prefix}{audit:${chain}}:head`;
  }

  auditTurn(chain: number): string {
    return `${this.prefix}{audit:${chain}}:turn`;
  }

  /** In the chain the grant's records go to (same tag as its stream): the append script updates it in the same atomic step, also on Cluster. */
  auditGrantIndex(chain: number, grantId: string): string {
    return `${this.prefix}{audit:${chain}}:grant:${grantId}`;
  }

  /** The chain count the trail was written under (checked at start). */
  auditChains(): string {
    return `${this.prefix}audit:chains`;
  }

  /** The live audit writers (AuditStore.writers). */
  auditWriters(): string {
    return `${this.prefix}audit:writers`;
  }

  session(id: string): string {
    return `${this.prefix}session:${sha256(id)}`;
  }

  oneShot(key: string): string {
    return `${this.prefix}once:${sha256(key)}`;
  }

  revocationItems(): string {
    return `${this.prefix}{revq}:items`;
  }

  revocationMeta(): string {
    return `${this.prefix}{revq}:meta`;
  }

  revocationDue(): string {
    return `${this.prefix}{revq}:due`;
  }

  /** Every `{wh}` key shares one slot: claiming, finishing and trimming are single scripts, also on Cluster. */
  webhookItems(): string {
    return `${this.prefix}{wh}:items`;
  }

  webhookStatus(): string {
    return `${this.prefix}{wh}:status`;
  }

  webhookAttempts(): string {
    return `${this.prefix}{wh}:attempts`;
  }

  webhookLease(): string {
    return `${this.prefix}{wh}:lease`;
  }

  webhookMeta(): string {
    return `${this.prefix}{wh}:meta`;
  }

  webhookDue(endpoint: string): string {
    return `${this.prefix}{wh}:due:${endpoint}`;
  }

  /** `status`: a delivery status, or `all`. */
  webhookIndex(status: string): string {
    return `${this.prefix}{wh}:by:${status}`;
  }

  /** `id` is already the SHA-256 of the bearer `auth_req_id` (store/approval-store.ts). */
  approval(id: string): string {
    return `${this.prefix}{apr:${id}}`;
  }

  userApprovals(userId: string): string {
    return `${this.prefix}apr-user:${sha256(userId)}`;
  }

  adminApprovals(): string {
    return `${this.prefix}apr-admin`;
  }
}
