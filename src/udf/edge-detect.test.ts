import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot } from '../agent/snapshot.js';
import { formatPoint, parseLine } from '../line-protocol.js';
import { FunctionRunner, streamPoint } from './testing.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/adsl/${name}`, import.meta.url), 'utf8');
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

function adslPoints() {
  return lines(fixture('adsl_connection-raw.lp')).map((l) => {
    const p = parseLine(l);
    return streamPoint(p.measurement, p.tags, p.time as bigint, { fieldsString: p.fieldsString }, ['host']);
  });
}

const S = 1_000_000_000n;
const str = (host: string, t: bigint, value: string) => streamPoint('adsl', { host }, t * S, { fieldsString: { value } }, ['host']);

// Through the wire codec, as in the sidecar, and as plain objects.
describe.each([{ wire: true }, { wire: false }])('edgeDetect (%o)', ({ wire }) => {
  it('reduces the 17 seed ADSL points to exactly the 6 expected state changes, timestamps kept', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    expect(f.init({ field: 'value' })).toBe('');
    const raw = adslPoints();
    expect(raw).toHaveLength(17);
    const out = raw.flatMap((p) => f.point(p)).map(formatPoint);
    expect(out).toEqual(lines(fixture('adsl_connection-edges-expected.lp')));
  });

  it('emits the incoming point unchanged, all its fields included', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'state' });
    const p = streamPoint('m', { host: 'a' }, 5n, { fieldsString: { state: 'up' }, fieldsDouble: { x: 1.5 }, fieldsInt: { n: 2n } });
    expect(f.point(p)).toEqual([p]);
  });

  it('keeps one state per group', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'value', emitFirst: false });
    expect(f.point(str('a', 1n, 'UP'))).toEqual([]);
    expect(f.point(str('b', 2n, 'DOWN'))).toEqual([]);
    expect(f.point(str('a', 3n, 'UP'))).toEqual([]);
    expect(f.point(str('b', 4n, 'UP')).map((p) => p.tags.host)).toEqual(['b']);
    expect(f.point(str('a', 5n, 'DOWN')).map((p) => p.tags.host)).toEqual(['a']);
  });

  it('watches ints, floats and bools, and several fields at once', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: ['mode', 'on'] });
    const p = (t: bigint, mode: bigint, on: boolean) => streamPoint('m', {}, t, { fieldsInt: { mode }, fieldsBool: { on } });
    const emitted = [p(1n, 1n, true), p(2n, 1n, true), p(3n, 2n, true), p(4n, 2n, false), p(5n, 2n, false)].flatMap((x) => f.point(x)).map((x) => x.time);
    expect(emitted).toEqual([1n, 3n, 4n]);
    const g = new FunctionRunner('edgeDetect', { wire });
    g.init({ field: 'temp', emitFirst: false });
    const d = (t: bigint, temp: number) => streamPoint('m', {}, t, { fieldsDouble: { temp } });
    expect([d(1n, 20), d(2n, 20), d(3n, 20.5)].flatMap((x) => g.point(x)).map((x) => x.time)).toEqual([3n]);
  });

  it('ignores points without the watched field', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'value' });
    expect(f.point(streamPoint('m', {}, 1n, { fieldsDouble: { other: 1 } }))).toEqual([]);
    expect(f.point(streamPoint('m', {}, 2n, { fieldsString: { value: 'A' } }))).toHaveLength(1);
  });

  it('annotates the previous value and how long the previous state lasted', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'value', previousAs: 'was', durationAs: 'lasted', unit: '1m' });
    expect(f.point(str('a', 0n, 'SHOWTIME'))[0].fieldsString).toEqual({ value: 'SHOWTIME' });
    f.point(str('a', 60n, 'SHOWTIME'));
    const [edge] = f.point(str('a', 90n, 'TRAINING'));
    expect(edge.fieldsString).toEqual({ value: 'TRAINING', was: 'SHOWTIME' });
    expect(edge.fieldsDouble).toEqual({ lasted: 1.5 });
    expect(edge.time).toBe(90n * S);
  });

  it('debounces: a new state counts only once it held minDuration, and is emitted with its first time', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'value', minDuration: '2m', previousAs: 'was' });
    const seq: [bigint, string][] = [
      [0n, 'UP'],
      [60n, 'DOWN'], // flap: back UP before 2 minutes
      [90n, 'UP'],
      [200n, 'DOWN'], // real change, confirmed at 320
      [260n, 'DOWN'],
      [320n, 'DOWN'],
      [400n, 'DOWN'],
    ];
    const out = seq.flatMap(([t, v]) => f.point(str('a', t, v)).map((p) => [p.time / S, p.fieldsString.value, p.fieldsString.was]));
    expect(out).toEqual([
      [0n, 'UP', undefined],
      [200n, 'DOWN', 'UP'],
    ]);
  });

  it('continues from a snapshot taken by the earlier build, whose state kept one watched value in an array', () => {
    for (const field of ['value', ['value', 'mode']]) {
      const f = new FunctionRunner('edgeDetect', { wire });
      f.init({ field, previousAs: 'was' });
      const pt = (t: bigint, value: string) => streamPoint('adsl', { host: 'a' }, t * S, { fieldsString: { value, mode: 'x' } }, ['host']);
      f.point(pt(1n, 'UP'));
      const taken = decodeSnapshot(f.snapshot());
      const single = typeof field === 'string';
      const old = taken.groups.map(([g]): [string, unknown] => [g, { values: single ? ['UP'] : ['UP', 'x'], since: 0n, candidate: null }]);
      const g = new FunctionRunner('edgeDetect', { wire });
      g.init({ field, previousAs: 'was' });
      expect(g.restore(encodeSnapshot({ ...taken, stateVersion: 1, groups: old }))).toBe('');
      expect(g.point(pt(2n, 'UP'))).toEqual([]);
      const [edge] = g.point(pt(3n, 'DOWN'));
      expect(single ? edge.fieldsString.was : edge.fieldsString.was_value).toBe('UP');
    }
  });

  it('starts a group fresh when its restored state watches a different number of fields than the task', () => {
    for (const [field, current] of [
      ['value', ['UP', 'x']],
      [['value', 'mode'], 'UP'],
    ] as const) {
      const f = new FunctionRunner('edgeDetect', { wire });
      f.init({ field: field as string | string[], emitFirst: false });
      const pt = (t: bigint, value: string) => streamPoint('adsl', { host: 'a' }, t * S, { fieldsString: { value, mode: 'x' } }, ['host']);
      f.point(pt(1n, 'UP'));
      const taken = decodeSnapshot(f.snapshot());
      const g = new FunctionRunner('edgeDetect', { wire });
      g.init({ field: field as string | string[], emitFirst: false });
      g.restore(encodeSnapshot({ ...taken, groups: taken.groups.map(([k]): [string, unknown] => [k, { current, since: null, candidate: null }]) }));
      // A fresh state: the first point sets the state and, with emitFirst(false), emits nothing.
      expect(g.point(pt(2n, 'UP'))).toEqual([]);
    }
  });

  it('fails Init naming the option', () => {
    const cases: [Record<string, never | string | boolean | bigint>, RegExp][] = [
      [{}, /option field: is required/],
      [{ field: 'v', bogus: 'x' }, /option bogus: unknown option/],
      [{ field: 'v', minDuration: -1n }, /option minDuration: must be >= 0/],
      [{ field: 'v', unit: 0n }, /option unit: must be > 0/],
      [{ field: ['v', 'v'] as never }, /option field: lists a field twice/],
    ];
    for (const [opts, err] of cases) expect(new FunctionRunner('edgeDetect', { wire }).init(opts)).toMatch(err);
  });
});
