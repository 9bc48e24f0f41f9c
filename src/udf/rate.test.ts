import { describe, expect, it } from 'vitest';
import type { Point } from '../agent/messages.js';
import { decodeSnapshot, encodeSnapshot } from '../agent/snapshot.js';
import { FunctionRunner, streamPoint } from './testing.js';

const S = 1_000_000_000n;
const counter = (t: bigint, v: bigint) => streamPoint('net', { iface: 'eth0' }, t * S, { fieldsInt: { bytes: v } });
const rates = (f: FunctionRunner, pts: Point[], as = 'rate') => pts.flatMap((p) => f.point(p)).map((p) => p.fieldsDouble[as]);

// Through the wire codec, as in the sidecar, and as plain objects.
describe.each([{ wire: true }, { wire: false }])('rate (%o)', ({ wire }) => {
  it('emits increase / elapsed per unit after the first point', () => {
    const f = new FunctionRunner('rate', { wire });
    expect(f.init({ field: 'bytes' })).toBe('');
    expect(rates(f, [counter(0n, 100n), counter(10n, 200n), counter(20n, 500n)])).toEqual([10, 30]);
  });

  it('treats a decrease as a counter reset: the increase is the new value', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes', unit: '1m' });
    expect(rates(f, [counter(0n, 1000n), counter(60n, 1600n), counter(120n, 300n), counter(180n, 900n)])).toEqual([600, 300, 600]);
  });

  it('with max, a decrease is a wrap: (max - previous) + value + 1', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes', max: 4294967295 });
    expect(rates(f, [counter(0n, 4294967290n), counter(1n, 9n)])).toEqual([15]);
  });

  it('counter(false) is the plain derivative, negative allowed, floats too', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 't', counter: false, as: 'slope' });
    const g = (t: bigint, v: number) => streamPoint('temp', {}, t * S, { fieldsDouble: { t: v } });
    expect(rates(f, [g(0n, 20), g(2n, 19), g(4n, 23)], 'slope')).toEqual([-0.5, 2]);
  });

  it('ignores duplicate and out-of-order times', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes' });
    expect(rates(f, [counter(10n, 100n), counter(10n, 150n), counter(5n, 50n), counter(20n, 200n)])).toEqual([10]);
  });

  it('stays exact for int counters beyond 2^53', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes' });
    const base = 2n ** 60n;
    expect(rates(f, [counter(0n, base), counter(1n, base + 3n)])).toEqual([3]);
    // Crossing 2^53: one value a number, the next a bigint.
    const g = new FunctionRunner('rate', { wire });
    g.init({ field: 'bytes' });
    const edge = 2n ** 53n;
    expect(rates(g, [counter(0n, edge - 1n), counter(1n, edge + 2n), counter(2n, edge + 7n), counter(3n, edge + 9n)])).toEqual([3, 5, 2]);
  });

  it('continues from a snapshot of the earlier build ({time, value}), times beyond 2^53 included', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes' });
    f.point(counter(0n, 1n));
    const taken = decodeSnapshot(f.snapshot());
    const t0 = 1_700_000_000n; // seconds: in ns, beyond 2^53
    const g = new FunctionRunner('rate', { wire });
    g.init({ field: 'bytes' });
    const old = { time: t0 * S, value: 1000n };
    expect(g.restore(encodeSnapshot({ ...taken, stateVersion: 1, groups: [[taken.groups[0][0], old]] }))).toBe('');
    expect(rates(g, [counter(t0 + 10n, 1500n)])).toEqual([50]);
    const fresh = new FunctionRunner('rate', { wire }); // a group never seen: {time: null} starts over
    fresh.init({ field: 'bytes' });
    expect(fresh.restore(encodeSnapshot({ ...taken, stateVersion: 1, groups: [[taken.groups[0][0], { time: null, value: 0 }]] }))).toBe('');
    expect(rates(fresh, [counter(t0, 100n), counter(t0 + 1n, 300n)])).toEqual([200]);
  });

  it('outputs only the `as` field, keeping name, tags and group', () => {
    const f = new FunctionRunner('rate', { wire });
    f.init({ field: 'bytes' });
    f.point(counter(0n, 1n));
    const [p] = f.point(counter(1n, 2n));
    expect(p).toMatchObject({ name: 'net', tags: { iface: 'eth0' }, group: 'iface=eth0', fieldsInt: {}, fieldsDouble: { rate: 1 } });
  });

  it('fails Init naming the option', () => {
    expect(new FunctionRunner('rate', { wire }).init({ field: 'x', max: 10, counter: false })).toMatch(/option max: applies only to counters/);
    expect(new FunctionRunner('rate', { wire }).init({ field: 'x', unit: 0n })).toMatch(/option unit: must be > 0/);
  });
});
