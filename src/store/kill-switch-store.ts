/** Kill switches: durable state with an epoch, and the fast-path change notice. */
export type KillScope = 'global' | 'gateway' | 'agent' | 'user' | 'provider' | 'grant';

export interface KillSwitch {
  scope: KillScope;
  /** The id within the scope; `*` for global. */
  target: string;
  reason: string;
  engagedAt: number;
  engagedBy: string;
}

export interface KillSwitchSnapshot {
  /** Monotonic; bumped by every engage/release in the same atomic step. */
  epoch: number;
  switches: KillSwitch[];
}

export interface KillSwitchStore {
  /** Engage durably; resolves only once written. Returns the new epoch. */
  engage(sw: KillSwitch): Promise<number>;
  /** Release; returns the new epoch (unchanged if the switch was not engaged). */
  release(scope: KillScope, target: string): Promise<number>;
  epoch(): Promise<number>;
  snapshot(): Promise<KillSwitchSnapshot>;
}

/**
 * Fast-path notice that the kill switches changed (Redis pub/sub). Best effort:
 * a lost message only costs latency, because replicas also poll `epoch()`.
 */
export interface KillSwitchEvents {
  /** Announce a new epoch to every replica (after the change is durable). */
  publish(epoch: number): Promise<void>;
  /** Call `listener` with every epoch announced; resolves once subscribed, with an unsubscribe. */
  subscribe(listener: (epoch: number) => void): Promise<() => Promise<void>>;
}
