/**
 * Restore of well-formed snapshots whose states have the wrong shape: each such group starts fresh (logged), the
 * Restore succeeds, and the task goes on without an ErrorResponse — never a task that dies at its first point.
 */
import { describe, expect, it } from 'vitest';
import { FunctionRunner, streamPoint } from '../udf/testing.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

/** A snapshot the runner itself would take, with the given states in place of its groups'. */
function withStates(f: FunctionRunner, states: unknown[]): Uint8Array {
  const taken = decodeSnapshot(f.snapshot());
  return encodeSnapshot({ ...taken, groups: states.map((s, i) => [`g=${i}`, s]) });
}

const p = (i: number, t: bigint, fields: Parameters<typeof streamPoint>[3]) => streamPoint('m', { g: String(i) }, t, fields);

const cases: { fn: string; options: Record<string, string | bigint>; fields: Parameters<typeof streamPoint>[3]; bad: unknown[] }[] = [
  {
    fn: 'movingAverage',
    options: { field: 'v', size: 2n },
    fields: { fieldsDouble: { v: 1 } },
    bad: [null, 'window', [0, 0, 5, 1, 2], [0, 7, 2, 1, 2], [0, 0, 1, 'x'], { ring: 'x', next: 0, sum: 0 }, { ring: [1, 2, 3], next: 0, sum: 0 }, 42],
  },
  {
    fn: 'movingAverage',
    options: { field: 'v', window: '10s' },
    fields: { fieldsDouble: { v: 1 } },
    bad: [null, 'w', { times: [1n], values: [] }, { times: [1], values: [1] }, { times: 'x', values: [] }],
  },
  {
    fn: 'edgeDetect',
    options: { field: 'v' },
    fields: { fieldsDouble: { v: 1 } },
    bad: [
      null,
      'x',
      { current: 1, since: 'x', candidate: null },
      { current: { a: 1 }, since: 0n, candidate: null },
      { current: 1, since: 0n, candidate: { current: 2, point: null } },
      { values: 'x', since: 0n, candidate: null },
    ],
  },
  {
    fn: 'rate',
    options: { field: 'v' },
    fields: { fieldsDouble: { v: 1 } },
    bad: [
      null,
      's',
      { primed: 'yes', timeHi: 0, timeLo: 0, value: 1 },
      { primed: true, timeHi: 0.5, timeLo: 0, value: 1 },
      { primed: true, timeHi: 0, timeLo: 0, value: 'x' },
      { time: 'x', value: 1 },
    ],
  },
];

describe.each(cases)('restore of wrong-shaped $fn states', ({ fn, options, fields, bad }) => {
  it.each([false, true])('starts such groups fresh and runs on (batch: %s)', (batch) => {
    const name = batch ? `${fn}Batch` : fn;
    const f = new FunctionRunner(name);
    expect(f.init(options)).toBe('');
    const states = batch ? [...bad.map((state) => ({ seen: null, state })), null, { seen: 'x', state: null }] : bad;
    expect(f.restore(withStates(f, states))).toBe('');
    for (let i = 0; i < states.length; i++) {
      const points = [p(i, 1_000_000_000n, fields), p(i, 2_000_000_000n, fields)];
      if (batch) {
        const begin = { name: 'm', group: `g=${i}`, tags: { g: String(i) }, size: 2n, byName: false };
        const out = f.batch(begin, points, { name: 'm', group: `g=${i}`, tmax: 2n, tags: {}, byName: false });
        expect(out.every((r) => r.kind !== 'error')).toBe(true);
      } else {
        for (const q of points) expect(() => f.point(q)).not.toThrow();
      }
    }
  });
});

describe('restore of states in the right shape', () => {
  it('movingAverage continues a restored count window exactly', () => {
    const f = new FunctionRunner('movingAverage');
    f.init({ field: 'v', size: 3n });
    expect(f.restore(withStates(f, [[3, 0, 2, 1, 2]]))).toBe('');
    expect(f.point(p(0, 1n, { fieldsDouble: { v: 6 } })).map((q) => q.fieldsDouble.movingAverage)).toEqual([3]);
  });
});
