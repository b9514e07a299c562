import type { ApprovalBinding, ApprovalRecord, ApprovalStatus, ApprovalStore, ApprovalView, DecideOutcome, Decider, PollOutcome } from '../approval-store.js';
import { statusAt } from '../approval-store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

const OUTCOMES = new Set(['unknown', 'consumed', 'expired', 'slow_down', 'pending', 'denied']);
const DECIDED = new Set(['decided', 'unknown', 'expired', 'already_decided']);

/** The fields the poll script compares with the caller, in one string. */
const bindingOf = (b: ApprovalBinding) => JSON.stringify([b.gateway, b.certThumbprint, b.agent, b.userId]);

/**
 * Redis ApprovalStore. One hash per request under `{apr:<id>}` (one slot: every state change
 * is one script on it); the lists of pending requests are sorted sets in other slots, scored
 * by expiry, written before the request exists and trimmed once past expiry. An index may
 * name a request that is gone or decided (skipped on read), never miss a pending one.
 */
export class RedisApprovalStore implements ApprovalStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async create(record: ApprovalRecord, retainUntil: number): Promise<void> {
    const index = record.approver === 'user' ? this.keys.userApprovals(record.userId) : this.keys.adminApprovals();
    await this.redis.multi().zremrangebyscore(index, '-inf', record.createdAt).zadd(index, record.expiresAt, record.id).exec();
    const key = this.keys.approval(record.id);
    const fields = {
      r: JSON.stringify(record),
      s: 'pending',
      b: bindingOf(record),
      ap: record.approver,
      u: record.userId,
      exp: String(record.expiresAt),
      iv: String(record.intervalMs),
    };
    const done = await this.redis.multi().hset(key, fields).pexpireat(key, Math.ceil(retainUntil)).exec();
    if (!done || done.some(([err]) => err)) throw new Error('approval not stored');
  }

  async get(id: string, now: number): Promise<ApprovalView | null> {
    return viewOf(await this.redis.hgetall(this.keys.approval(id)), now);
  }

  pendingForUser(userId: string, now: number): Promise<ApprovalView[]> {
    return this.#pending(this.keys.userApprovals(userId), now);
  }

  pendingForAdmins(now: number): Promise<ApprovalView[]> {
    return this.#pending(this.keys.adminApprovals(), now);
  }

  async poll(id: string, binding: ApprovalBinding, now: number): Promise<PollOutcome> {
    const [outcome, json] = await this.redis.tvApprovalPoll(this.keys.approval(id), bindingOf(binding), now);
    if (outcome === 'approved' && json !== undefined) return { outcome, record: JSON.parse(json) as ApprovalRecord };
    if (!OUTCOMES.has(outcome)) throw new Error('unexpected approval poll outcome');
    return { outcome } as PollOutcome;
  }

  async decide(id: string, decision: 'approved' | 'denied', by: Decider, now: number): Promise<DecideOutcome> {
    const outcome = await this.redis.tvApprovalDecide(this.keys.approval(id), decision, by.role, by.role === 'user' ? by.id : '', `${by.role}:${by.id}`, now);
    if (!DECIDED.has(outcome)) throw new Error('unexpected approval decision outcome');
    return outcome as DecideOutcome;
  }

  async #pending(index: string, now: number): Promise<ApprovalView[]> {
    const ids = await this.redis.zrangebyscore(index, `(${now}`, '+inf');
    const views = await Promise.all(ids.map(async (id) => viewOf(await this.redis.hgetall(this.keys.approval(id)), now)));
    return views.filter((v): v is ApprovalView => v?.status === 'pending').sort((a, b) => a.record.createdAt - b.record.createdAt);
  }
}

function viewOf(fields: Record<string, string>, now: number): ApprovalView | null {
  if (fields.r === undefined || fields.s === undefined) return null;
  const record = JSON.parse(fields.r) as ApprovalRecord;
  return {
    record,
    status: statusAt(fields.s as Exclude<ApprovalStatus, 'expired'>, record.expiresAt, now),
    ...(fields.by !== undefined && { decidedBy: fields.by }),
    ...(fields.at !== undefined && { decidedAt: Number(fields.at) }),
  };
}
