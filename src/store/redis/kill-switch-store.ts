import type { KillScope, KillSwitch, KillSwitchSnapshot, KillSwitchStore } from '../kill-switch-store.js';
import { throwFirstError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Redis KillSwitchStore: one hash of switches and an epoch counter under the
 * `{ks}` tag, changed together by one script. Replicas poll `epoch()` cheaply
 * and reload the snapshot only when it moves (the 1 s propagation bound).
 */
export class RedisKillSwitchStore implements KillSwitchStore {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: RedisKeys,
  ) {}

  async engage(sw: KillSwitch): Promise<number> {
    const { scope, target, reason, engagedAt, engagedBy } = sw;
    const json = JSON.stringify({ scope, target, reason, engagedAt, engagedBy });
    // Resolves after Redis applied (and, with AOF, logged) the write.
    return await this.redis.tvEngageSwitch(this.keys.killSwitches(), this.keys.killEpoch(), field(scope, target), json);
  }

  async release(scope: KillScope, target: string): Promise<number> {
    return await this.redis.tvReleaseSwitch(this.keys.killSwitches(), this.keys.killEpoch(), field(scope, target));
  }

  async epoch(): Promise<number> {
    return Number((await this.redis.get(this.keys.killEpoch())) ?? 0);
  }

  async snapshot(): Promise<KillSwitchSnapshot> {
    // MULTI so the epoch and the switches are read at one instant.
    const [epoch, switches] = throwFirstError(await this.redis.multi().get(this.keys.killEpoch()).hvals(this.keys.killSwitches()).exec()) as [
      string | null,
      string[],
    ];
    return { epoch: Number(epoch ?? 0), switches: switches.map((json) => JSON.parse(json) as KillSwitch) };
  }
}

function field(scope: KillScope, target: string): string {
  return `${scope}:${target}`;
}
