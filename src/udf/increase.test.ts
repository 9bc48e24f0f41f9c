import { describe, expect, it } from 'vitest';
import type { Point } from '../agent/messages.js';
import { FunctionRunner, streamPoint } from './testing.js';

const M = 60_000_000_000n;
const H = 60n * M;
const T0 = 1_700_000_000n * 1_000_000_000n;
const HOUR0 = (T0 / H) * H; // an hour boundary, beyond 2^53 ns
const meter = (t: bigint, v: bigint | number, plug = 'A1') =>
  streamPoint(
    'electrical_busplug',
    { row: 'R4', pod: 'PB', rack: 'C06', plug },
    t,
    typeof v === 'bigint' ? { fieldsInt: { metered_active_energy: v } } : { fieldsDouble: { metered_active_energy: v } },
  );
const out = (f: FunctionRunner, pts: Point[]) => pts.flatMap((p) => f.point(p)).map((p) => [p.time, p.fieldsDouble.increase]);

describe.each([{ wire: true }, { wire: false }])('increase (%o)', ({ wire }) => {
  it('stream: emits each window’s increase at its end, once a later window begins', () => {
    const f = new FunctionRunner('increase', { wire });
    expect(f.init({ field: 'metered_active_energy', window: '1h' })).toBe('');
    const pts = [meter(HOUR0 + 10n * M, 1000n), meter(HOUR0 + 40n * M, 1300n), meter(HOUR0 + H + 5n * M, 1500n), meter(HOUR0 + H + 50n * M, 2400n)];
    expect(out(f, pts)).toEqual([[HOUR0 + H, 300]]);
    // The step across the boundary (1300 → 1500) belongs to the window of the later point: hours add up to the total.
    expect(out(f, [meter(HOUR0 + 2n * H, 2500n)])).toEqual([[HOUR0 + 2n * H, 1100]]);
  });

  it('compensates a reset (the increase is the new value) and, with max, a wrap', () => {
    const f = new FunctionRunner('increase', { wire });
    f.init({ field: 'metered_active_energy', window: '1h' });
    const reset = [meter(HOUR0, 900n), meter(HOUR0 + M, 1000n), meter(HOUR0 + 2n * M, 40n), meter(HOUR0 + 3n * M, 100n), meter(HOUR0 + H, 100n)];
    expect(out(f, reset)).toEqual([[HOUR0 + H, 100 + 40 + 60]]);
    const g = new FunctionRunner('increase', { wire });
    g.init({ field: 'metered_active_energy', window: '1h', max: 4294967295 });
    expect(out(g, [meter(HOUR0, 4294967290n), meter(HOUR0 + M, 9n), meter(HOUR0 + H, 9n)])).toEqual([[HOUR0 + H, 15]]);
  });

  it('keeps groups apart, floats and ints beyond 2^53 exact, ignores duplicate and out-of-order times', () => {
    const f = new FunctionRunner('increase', { wire });
    f.init({ field: 'metered_active_energy', window: '10m', as: 'increase' });
    const big = 2n ** 60n;
    const pts = [meter(HOUR0, big), meter(HOUR0, 0.5, 'B1'), meter(HOUR0 + M, big + 7n), meter(HOUR0 + M, big + 100n), meter(HOUR0 - M, 1n)];
    pts.push(meter(HOUR0 + 2n * M, 2.25, 'B1'), meter(HOUR0 + 10n * M, big + 9n), meter(HOUR0 + 10n * M, 3, 'B1'));
    expect(out(f, pts)).toEqual([
      [HOUR0 + 10n * M, 7],
      [HOUR0 + 10n * M, 1.75],
    ]);
  });

  it('batch: emits one point per batch, at its tmax, the increase since the group’s previous batch', () => {
    const f = new FunctionRunner('increaseBatch', { wire });
    expect(f.init({ field: 'metered_active_energy' })).toBe('');
    const tags = { row: 'R4', pod: 'PB', rack: 'C06', plug: 'A1' };
    const group = 'plug=A1,pod=PB,rack=C06,row=R4';
    const batch = (tmax: bigint, pts: Point[]) =>
      f
        .batch({ name: 'electrical_busplug', group, tags, size: BigInt(pts.length), byName: false }, pts, {
          name: 'electrical_busplug',
          group,
          tmax,
          tags,
          byName: false,
        })
        .flatMap((r) => (r.kind === 'point' ? [[r.point.time, r.point.fieldsDouble.increase, r.point.tags.plug]] : []));
    expect(batch(HOUR0 + H, [meter(HOUR0, 100n), meter(HOUR0 + 30n * M, 160n), meter(HOUR0 + 50n * M, 10n)])).toEqual([[HOUR0 + H, 70, 'A1']]);
    expect(batch(HOUR0 + 2n * H, [meter(HOUR0 + H + M, 50n)])).toEqual([[HOUR0 + 2n * H, 40, 'A1']]);
    expect(batch(HOUR0 + 3n * H, [])).toEqual([]); // no point: no period to report
  });

  it('continues through a snapshot, mid-window', () => {
    const f = new FunctionRunner('increase', { wire });
    f.init({ field: 'metered_active_energy', window: '1h' });
    f.point(meter(HOUR0, 10n));
    f.point(meter(HOUR0 + M, 25n));
    const g = new FunctionRunner('increase', { wire });
    g.init({ field: 'metered_active_energy', window: '1h' });
    expect(g.restore(f.snapshot())).toBe('');
    expect(out(g, [meter(HOUR0 + 2n * M, 30n), meter(HOUR0 + H, 31n)])).toEqual([[HOUR0 + H, 20]]);
  });

  it('fails Init naming the option', () => {
    expect(new FunctionRunner('increase', { wire }).init({ field: 'x' })).toMatch(/option window: is required/);
    expect(new FunctionRunner('increaseBatch', { wire }).init({ field: 'x', window: '1h' })).toMatch(/option window: is for the stream increase/);
    expect(new FunctionRunner('increase', { wire }).init({ field: 'x', window: 0n })).toMatch(/option window: must be > 0/);
  });
});
