import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Session } from '../../src/store/session-store.js';
import type { Stores } from '../../src/store/stores.js';

const session = (overrides: Partial<Session> = {}): Session => ({
  userId: 'https://idp.example#alice',
  displayName: 'Alice',
  csrfSecret: 'csrf-secret',
  createdAt: 1_763_776_543_210,
  ...overrides,
});

/** SessionStore and OneShotStore behaviour: TTLs, destroy, single-use take under contention. */
export function describeSessionStoreContract(stores: () => Stores): void {
  describe('sessions', () => {
    it('stores a session under its id until destroyed', async () => {
      await stores().sessions.create('s-1', session(), 60_000);
      await stores().sessions.create('s-2', session({ userId: 'https://idp.example#bob' }), 60_000);
      expect(await stores().sessions.get('s-1')).toStrictEqual(session());
      await stores().sessions.destroy('s-1');
      expect(await stores().sessions.get('s-1')).toBeNull();
      expect(await stores().sessions.get('s-2')).toStrictEqual(session({ userId: 'https://idp.example#bob' }));
      await expect(stores().sessions.destroy('unknown')).resolves.toBeUndefined();
    });

    it('forgets a session after its TTL', async () => {
      await stores().sessions.create('s-ttl', session(), 150);
      await sleep(300);
      expect(await stores().sessions.get('s-ttl')).toBeNull();
    });
  });

  describe('one-shot values', () => {
    it('hands a value out once', async () => {
      await stores().oneShot.put('state-1', '{"v":1}', 60_000);
      expect(await stores().oneShot.take('state-1')).toBe('{"v":1}');
      expect(await stores().oneShot.take('state-1')).toBeNull();
      expect(await stores().oneShot.take('unknown')).toBeNull();
    });

    it('gives a value to exactly one of many concurrent takers', async () => {
      await stores().oneShot.put('state-hot', 'x', 60_000);
      const taken = await Promise.all(Array.from({ length: 50 }, () => stores().oneShot.take('state-hot')));
      expect(taken.filter((t) => t !== null)).toStrictEqual(['x']);
    });

    it('forgets a value after its TTL', async () => {
      await stores().oneShot.put('state-ttl', 'x', 150);
      await sleep(300);
      expect(await stores().oneShot.take('state-ttl')).toBeNull();
    });
  });
}
