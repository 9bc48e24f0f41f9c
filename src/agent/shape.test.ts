import { describe, expect, it } from 'vitest';
import { is } from './shape.js';
import { Time } from './time.js';

describe('state checks', () => {
  const check = is.record({ at: is.nullable(is.time), value: is.numeric, ring: is.arrayOf(is.number, 2), w: is.either(is.string, is.arrayOf(is.boolean)) });
  const good = { at: Time.of(5n), value: 2n, ring: [1, 2], w: 'x' };

  it('accepts a state of its shape, extra keys ignored', () => {
    expect(check(good)).toBe(true);
    expect(check({ ...good, at: null, value: 1.5, w: [true], extra: 'kept' })).toBe(true);
  });

  it('refuses a state that differs anywhere', () => {
    for (const bad of [
      null,
      [],
      'state',
      { ...good, at: 5n }, // a version-1 time
      { ...good, value: '2' },
      { ...good, ring: [1] },
      { ...good, ring: [1, '2'] },
      { ...good, w: [1] },
      { at: good.at, value: 2n, ring: [1, 2] },
    ]) {
      expect(
        check(bad),
        JSON.stringify(bad, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toBe(false);
    }
  });

  it('checks a point as a state holds it: whole and plain', () => {
    const point = {
      time: 1n,
      name: 'm',
      database: 'db',
      retentionPolicy: 'rp',
      group: '',
      dimensions: [],
      byName: false,
      tags: {},
      fieldsDouble: {},
      fieldsInt: {},
      fieldsString: {},
      fieldsBool: {},
    };
    expect(is.point(point)).toBe(true);
    expect(is.point({ ...point, time: 1 })).toBe(false);
  });
});
