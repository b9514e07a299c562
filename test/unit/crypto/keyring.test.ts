import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/crypto/keyring.js';

describe('keyring', () => {
  it('makes the highest numeric id active by default', () => {
    const keyring = new Keyring(['2', '10', '9'].map((id) => ({ id, key: randomBytes(32) })));
    expect(keyring.activeId).toBe('10');
    expect(keyring.ids().sort()).toStrictEqual(['10', '2', '9']);
  });

  it('keeps its own copy of each key and zeroes it when sealed', () => {
    const source = randomBytes(32);
    const keyring = new Keyring([{ id: '1', key: source }]);
    const held = keyring.get('1');
    expect(held).toStrictEqual(new Uint8Array(source));
    source.fill(0);
    expect(held?.some((b) => b !== 0)).toBe(true);
    keyring.seal();
    expect(held?.every((b) => b === 0)).toBe(true);
    expect(keyring.ids()).toStrictEqual([]);
  });

  it.each([
    ['no keys', [], undefined],
    ['a short key', [{ id: '1', key: randomBytes(16) }], undefined],
    [
      'a duplicate id',
      [
        { id: '1', key: randomBytes(32) },
        { id: '1', key: randomBytes(32) },
      ],
      undefined,
    ],
    ['an active id it does not hold', [{ id: '1', key: randomBytes(32) }], '2'],
    ['an id that cannot go in a header', [{ id: 'a b', key: randomBytes(32) }], 'a b'],
  ])('rejects %s', (_case, entries, active) => {
    expect(() => new Keyring(entries, active)).toThrow(TypeError);
  });

  it('adopts freshly loaded keys in place: unseals, switches the active key, and seals the donor', () => {
    const keyring = new Keyring([{ id: '1', key: randomBytes(32) }]);
    keyring.seal();
    const k1 = randomBytes(32);
    const fresh = new Keyring([
      { id: '1', key: k1 },
      { id: '2', key: randomBytes(32) },
    ]);
    keyring.adopt(fresh);
    expect(keyring.isSealed()).toBe(false);
    expect(keyring.activeId).toBe('2');
    expect(keyring.ids()).toStrictEqual(['1', '2']);
    expect(Buffer.from(keyring.get('1')!).equals(k1)).toBe(true);
    expect(fresh.isSealed()).toBe(true);
    expect(() => keyring.adopt(fresh)).toThrow('keyring is sealed');
  });
});
