import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot } from '../agent/snapshot.js';
import { FunctionRunner, streamPoint } from './testing.js';

const S = 1_000_000_000n;
const gauge = (t: bigint, v: number, host = 'a') => streamPoint('cpu', { host }, t * S, { fieldsDouble: { usage: v }, fieldsString: { note: 'x' } });

// Through the wire codec, as in the sidecar, and as plain objects.
describe.each([{ wire: true }, { wire: false }])('movingAverage (%o)', ({ wire }) => {
  it('size: emits once N points were seen, the mean of the last N, only the `as` field', () => {
    const f = new FunctionRunner('movingAverage', { wire });
    expect(f.init({ field: 'usage', size: 3n })).toBe('');
    const out = [1, 2, 3, 4, 10].flatMap((v, i) => f.point(gauge(BigInt(i), v)));
    expect(out.map((p) => p.fieldsDouble)).toEqual([{ movingAverage: 2 }, { movingAverage: 3 }, { movingAverage: 17 / 3 }]);
    expect(out[0].fieldsString).toEqual({});
    expect(out[0].tags).toEqual({ host: 'a' });
    expect(out.map((p) => p.time)).toEqual([2n * S, 3n * S, 4n * S]);
  });

  it('size: a NaN or an infinity counts while in the window and no longer once it has left', () => {
    const f = new FunctionRunner('movingAverage', { wire });
    f.init({ field: 'usage', size: 3n });
    const values = [1, Number.NaN, 2, 3, 4, 5, Infinity, 6, 7, 8, 9];
    const out = values.flatMap((v, i) => f.point(gauge(BigInt(i), v))).map((p) => p.fieldsDouble.movingAverage);
    // Each output is the mean of the three values before it, computed afresh.
    const fresh = values.slice(2).map((_, i) => (values[i] + values[i + 1] + values[i + 2]) / 3);
    expect(out).toEqual(fresh);
    expect(out.slice(3)).toEqual([4, Infinity, Infinity, Infinity, 7, 8]);
  });

  it('size: a window holding NaN and infinities continues exactly through a snapshot', () => {
    const values = [1, Number.NaN, -Infinity, 3, -0, 5, 6, 7];
    const straight = new FunctionRunner('movingAverage', { wire });
    straight.init({ field: 'usage', size: 3n });
    const expected = values.flatMap((v, i) => straight.point(gauge(BigInt(i), v)));
    const before = new FunctionRunner('movingAverage', { wire });
    before.init({ field: 'usage', size: 3n });
    const got = values.slice(0, 3).flatMap((v, i) => before.point(gauge(BigInt(i), v)));
    const after = new FunctionRunner('movingAverage', { wire });
    after.init({ field: 'usage', size: 3n });
    expect(after.restore(before.snapshot())).toBe('');
    got.push(...values.slice(3).flatMap((v, i) => after.point(gauge(BigInt(3 + i), v))));
    expect(got.map((p) => p.fieldsDouble.movingAverage)).toEqual(expected.map((p) => p.fieldsDouble.movingAverage));
    expect(got.map((p) => p.fieldsDouble.movingAverage).slice(0, 3)).toEqual([Number.NaN, Number.NaN, -Infinity]);
  });

  it('size: continues from a snapshot of the earlier build ({ring, next, sum}), filling or full', () => {
    const values = [4, 8, 15, 16, 23, 42, 7];
    for (const seen of [2, 5]) {
      const straight = new FunctionRunner('movingAverage', { wire });
      straight.init({ field: 'usage', size: 3n });
      const expected = values.flatMap((v, i) => straight.point(gauge(BigInt(i), v))).slice(seen >= 3 ? seen - 2 : 0);
      // The earlier build's state after `seen` points: the ring in arrival order until full, then a rotating index.
      const ring = seen < 3 ? values.slice(0, seen) : [values[3], values[4], values[2]];
      const old = { ring, next: seen < 3 ? 0 : 2, sum: ring.reduce((a, b) => a + b) };
      const f = new FunctionRunner('movingAverage', { wire });
      f.init({ field: 'usage', size: 3n });
      f.point(gauge(0n, 1)); // a group, so that the snapshot names it and carries the options' fingerprint
      const taken = decodeSnapshot(f.snapshot());
      const g = new FunctionRunner('movingAverage', { wire });
      g.init({ field: 'usage', size: 3n });
      expect(g.restore(encodeSnapshot({ ...taken, stateVersion: 1, groups: [[taken.groups[0][0], old]] }))).toBe('');
      const out = values.slice(seen).flatMap((v, i) => g.point(gauge(BigInt(seen + i), v)));
      expect(out.map((p) => p.fieldsDouble.movingAverage)).toEqual(expected.map((p) => p.fieldsDouble.movingAverage));
    }
  });

  it('size: stays exact over many laps of the ring', () => {
    const f = new FunctionRunner('movingAverage', { wire });
    f.init({ field: 'usage', size: 4n, as: 'avg' });
    let last = 0;
    for (let i = 0; i < 10_000; i++) {
      const out = f.point(gauge(BigInt(i), (i % 7) * 0.1));
      if (out.length) last = out[0].fieldsDouble.avg;
    }
    const tail = [9996, 9997, 9998, 9999].map((i) => (i % 7) * 0.1);
    expect(last).toBeCloseTo(tail.reduce((a, b) => a + b) / 4, 12);
  });

  it('window: the mean of points with time in (t - window, t], one output per input', () => {
    const f = new FunctionRunner('movingAverage', { wire });
    f.init({ field: 'usage', window: '10s' });
    const out = [
      [0n, 10],
      [5n, 20],
      [10n, 30], // 0 falls out: (0, 10]
      [30n, 40], // alone
    ].flatMap(([t, v]) => f.point(gauge(t as bigint, v as number)));
    expect(out.map((p) => p.fieldsDouble.movingAverage)).toEqual([10, 15, 25, 40]);
  });

  it('reads int fields and keeps groups apart', () => {
    const f = new FunctionRunner('movingAverage', { wire });
    f.init({ field: 'n', size: 2n });
    const p = (host: string, n: bigint) => streamPoint('m', { host }, 1n, { fieldsInt: { n } });
    expect(f.point(p('a', 1n))).toEqual([]);
    expect(f.point(p('b', 100n))).toEqual([]);
    expect(f.point(p('a', 3n))[0].fieldsDouble.movingAverage).toBe(2);
  });

  it('fails Init unless exactly one of size or window is given', () => {
    expect(new FunctionRunner('movingAverage', { wire }).init({ field: 'x' })).toMatch(/option size: give exactly one of size or window/);
    expect(new FunctionRunner('movingAverage', { wire }).init({ field: 'x', size: 2n, window: '1m' })).toMatch(/exactly one of size or window/);
    expect(new FunctionRunner('movingAverage', { wire }).init({ field: 'x', size: 0n })).toMatch(/option size: must be > 0/);
    expect(new FunctionRunner('movingAverage', { wire }).init({ field: 'x', window: 0n })).toMatch(/option window: must be > 0/);
  });
});
