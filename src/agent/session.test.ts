import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { describe, expect, it } from 'vitest';
import { FunctionRunner, initOptions, streamPoint } from '../udf/testing.js';
import { findFunction } from '../udf/registry.js';
import type { Point, Request, Response } from './messages.js';
import { Session } from './session.js';

function session(name: string) {
  const out: Response[] = [];
  const s = new Session(findFunction(name), out);
  const send = (r: Request) => {
    out.length = 0;
    const open = s.handle(r);
    return { open, responses: out.splice(0) };
  };
  return { s, send };
}

const S = 1_000_000_000n;
const gauge = (host: string, t: bigint, v: number) => streamPoint('cpu', { host }, t * S, { fieldsDouble: { usage: v } });

// Through the wire codec, as in the sidecar, and as plain objects.
describe.each([{ wire: true }, { wire: false }])('Session (%o)', ({ wire }) => {
  it('answers Info with edge types and typed options', () => {
    const { send } = session('movingAverageBatch');
    const [r] = send({ kind: 'info' }).responses;
    expect(r).toEqual({
      kind: 'info',
      info: { wants: 'batch', provides: 'batch', options: { field: ['string'], size: ['int'], window: ['duration'], as: ['string'] } },
    });
  });

  it('answers a keepalive with the same time, before and after Init', () => {
    const { send } = session('edgeDetect');
    expect(send({ kind: 'keepalive', time: 2n ** 62n + 7n }).responses).toEqual([{ kind: 'keepalive', time: 2n ** 62n + 7n }]);
  });

  it('fails Init on wrong types and counts of arguments, naming the option', () => {
    const { send } = session('movingAverage');
    const res = send({
      kind: 'init',
      taskId: 't',
      nodeId: 'n',
      options: [
        { name: 'field', values: [{ type: 'string', value: 'x' }] },
        { name: 'size', values: [{ type: 'double', value: 10 }] },
      ],
    });
    expect(res.open).toBe(true);
    expect(res.responses).toEqual([{ kind: 'init', success: false, error: 'movingAverage: option size: expects a int, got double 10' }]);
    const { send: send2 } = session('movingAverage');
    const res2 = send2({ kind: 'init', taskId: 't', nodeId: 'n', options: [{ name: 'field', values: [] }] });
    expect(res2.responses[0]).toMatchObject({ success: false, error: expect.stringMatching(/option field: expects exactly 1 string argument, got 0/) });
  });

  it('answers ErrorResponse and closes on a point before Init', () => {
    const { send, s } = session('edgeDetect');
    const res = send({ kind: 'point', point: gauge('a', 1n, 1) });
    expect(res.open).toBe(false);
    expect(res.responses).toEqual([{ kind: 'error', error: 'edgeDetect: point before a successful Init' }]);
    expect(s.failed).toBe(true);
    expect(send({ kind: 'info' }).responses).toEqual([]);
  });

  it('rejects batch messages on a stream function and an EndBatch without BeginBatch', () => {
    const init = (fn: string) => {
      const x = session(fn);
      x.send({ kind: 'init', taskId: 't', nodeId: 'n', options: initOptions(findFunction(fn), { field: 'v' }) });
      return x;
    };
    const begin = { name: 'm', group: '', tags: {}, size: 0n, byName: false };
    expect(init('edgeDetect').send({ kind: 'begin', begin }).responses[0]).toMatchObject({
      kind: 'error',
      error: expect.stringMatching(/use edgeDetectBatch/),
    });
    const end = { name: 'm', group: '', tags: {}, tmax: 0n, byName: false };
    expect(init('edgeDetectBatch').send({ kind: 'end', end }).responses[0]).toMatchObject({
      kind: 'error',
      error: expect.stringMatching(/EndBatch without BeginBatch/),
    });
  });

  it('wraps batch output in BeginBatch (with the output size) and EndBatch, keeping state across batches', () => {
    const f = new FunctionRunner('edgeDetectBatch', { wire });
    expect(f.init({ field: 'value' })).toBe('');
    const mk = (t: bigint, v: string) => streamPoint('adsl', { host: 'r1' }, t, { fieldsString: { value: v } });
    const begin = { name: 'adsl', group: 'host=r1', tags: { host: 'r1' }, size: 3n, byName: false };
    const end = (tmax: bigint) => ({ name: 'adsl', group: 'host=r1', tmax, tags: { host: 'r1' }, byName: false });
    const first = f.batch(begin, [mk(1n, 'A'), mk(2n, 'A'), mk(3n, 'B')], end(3n));
    expect(first.map((r) => r.kind)).toEqual(['begin', 'point', 'point', 'end']);
    expect(first[0]).toMatchObject({ begin: { size: 2n, group: 'host=r1' } });
    expect(first[3]).toMatchObject({ end: { tmax: 3n, name: 'adsl' } });
    const second = f.batch(begin, [mk(4n, 'B'), mk(5n, 'B')], end(5n));
    expect(second.map((r) => r.kind)).toEqual(['begin', 'end']);
    expect(second[0]).toMatchObject({ begin: { size: 0n } });
  });

  it('processes each point once when batch windows overlap (period > every)', () => {
    const f = new FunctionRunner('edgeDetectBatch', { wire });
    f.init({ field: 'value' });
    const mk = (t: bigint, v: string) => streamPoint('adsl', { host: 'r1' }, t, { fieldsString: { value: v } });
    const begin = { name: 'adsl', group: 'host=r1', tags: { host: 'r1' }, size: 0n, byName: false };
    const end = { name: 'adsl', group: 'host=r1', tmax: 0n, tags: { host: 'r1' }, byName: false };
    const edges = (pts: Point[]) => f.batch(begin, pts, end).flatMap((r) => (r.kind === 'point' ? [`${r.point.time}:${r.point.fieldsString.value}`] : []));
    expect(edges([mk(1n, 'A'), mk(2n, 'A'), mk(3n, 'B')])).toEqual(['1:A', '3:B']);
    // The next query window starts inside the first one: old points are not compared again.
    expect(edges([mk(2n, 'A'), mk(3n, 'B'), mk(4n, 'B'), mk(5n, 'A'), mk(5n, 'A')])).toEqual(['5:A']);
    const m = new FunctionRunner('movingAverageBatch', { wire });
    m.init({ field: 'v', size: 2n });
    const g = (t: bigint, v: number) => streamPoint('m', {}, t, { fieldsDouble: { v } });
    const avgs = (pts: Point[]) =>
      m.batch({ ...begin, group: '' }, pts, { ...end, group: '' }).flatMap((r) => (r.kind === 'point' ? [r.point.fieldsDouble.movingAverage] : []));
    expect(avgs([g(1n, 1), g(2n, 3)])).toEqual([2]);
    expect(avgs([g(1n, 1), g(2n, 3), g(3n, 5)])).toEqual([4]);
  });

  it('snapshots and restores so that a fresh connection continues as if uninterrupted', () => {
    const inputs: Point[] = [];
    for (let i = 0; i < 30; i++) inputs.push(gauge(i % 2 ? 'a' : 'b', BigInt(i), (i * 7) % 11));
    const straight = new FunctionRunner('movingAverage', { wire });
    straight.init({ field: 'usage', size: 5n });
    const expected = inputs.flatMap((p) => straight.point(p));

    const before = new FunctionRunner('movingAverage', { wire });
    before.init({ field: 'usage', size: 5n });
    const got = inputs.slice(0, 13).flatMap((p) => before.point(p));
    const snap = before.snapshot();
    expect(snap.length).toBeGreaterThan(0);
    const after = new FunctionRunner('movingAverage', { wire });
    after.init({ field: 'usage', size: 5n });
    expect(after.restore(snap)).toBe('');
    got.push(...inputs.slice(13).flatMap((p) => after.point(p)));
    expect(got).toEqual(expected);
  });

  it('keeps bigint state exact through a snapshot', () => {
    const a = new FunctionRunner('rate', { wire });
    a.init({ field: 'n' });
    const p = (t: bigint, n: bigint) => streamPoint('m', {}, t, { fieldsInt: { n } });
    a.point(p(2n ** 60n + 1n, 2n ** 60n));
    const b = new FunctionRunner('rate', { wire });
    b.init({ field: 'n' });
    expect(b.restore(a.snapshot())).toBe('');
    expect(b.point(p(2n ** 60n + 1n + S, 2n ** 60n + 5n))[0].fieldsDouble.rate).toBe(5);
  });

  it('keeps NaN, infinities and -0 in states through a snapshot, and writes version 1 when there are none', () => {
    const groups: [string, unknown][] = [['a', [Number.NaN, Infinity, -Infinity, -0, 0, 1.5, 2n ** 64n]]];
    const bytes = encodeSnapshot({ function: 'f', options: 'o', groups });
    const back = decodeSnapshot(bytes).groups[0][1] as unknown[];
    expect(back).toHaveLength(7);
    back.forEach((v, i) => expect(Object.is(v, (groups[0][1] as unknown[])[i])).toBe(true));
    expect(JSON.parse(Buffer.from(bytes).toString('utf8')).version).toBe(2);
    // Without such numbers the snapshot is what a version-1 reader expects, and reads back the same.
    const plain = encodeSnapshot({ function: 'f', options: 'o', groups: [['a', { n: 1, s: '$number' }]] });
    expect(JSON.parse(Buffer.from(plain).toString('utf8'))).toMatchObject({ version: 1, groups: [['a', { n: 1, s: '$number' }]] });
    expect(decodeSnapshot(plain).groups).toEqual([['a', { n: 1, s: '$number' }]]);
    // An object that merely looks like an escape is left alone; a version from a later build is refused.
    const lookalike = '{"format":"kapacitor-udf-sidecar/snapshot","version":1,"function":"f","options":"o","groups":[["a",{"$number":"1"}]]}';
    expect(decodeSnapshot(Buffer.from(lookalike)).groups[0][1]).toEqual({ $number: '1' });
    expect(() => decodeSnapshot(Buffer.from(lookalike.replace('"version":1', '"version":3')))).toThrow(
      /version 3 is not supported \(this build reads 1 to 2\)/,
    );
  });

  it('answers Restore of unreadable bytes with success=false and a message, and keeps working', () => {
    const f = new FunctionRunner('edgeDetect', { wire });
    f.init({ field: 'value' });
    expect(f.restore(new TextEncoder().encode('not json'))).toMatch(/not kapacitor-udf-sidecar\/snapshot JSON/);
    expect(f.restore(new TextEncoder().encode('{"format":"other"}'))).toMatch(/not in the kapacitor-udf-sidecar\/snapshot format/);
    const m = new FunctionRunner('movingAverage', { wire });
    m.init({ field: 'value', size: 2n });
    expect(f.restore(m.snapshot())).toMatch(/taken by movingAverage, not edgeDetect/);
    expect(f.point(streamPoint('m', {}, 1n, { fieldsString: { value: 'x' } }))).toHaveLength(1);
  });

  it('starts fresh (success) when the snapshot was taken under other options', () => {
    const a = new FunctionRunner('movingAverage', { wire });
    a.init({ field: 'usage', size: 2n });
    a.point(gauge('a', 1n, 10));
    const b = new FunctionRunner('movingAverage', { wire });
    b.init({ field: 'usage', size: 3n });
    expect(b.restore(a.snapshot())).toBe('');
    expect(b.point(gauge('a', 2n, 10))).toEqual([]);
  });

  it('evicts the least recently seen group past maxGroups', () => {
    const out: Response[] = [];
    const s = new Session(findFunction('edgeDetect'), out, { maxGroups: 2 });
    s.handle({ kind: 'init', taskId: 't', nodeId: 'n', options: initOptions(findFunction('edgeDetect'), { field: 'usage', emitFirst: false }) });
    for (const [host, t] of [
      ['a', 1n],
      ['b', 2n],
      ['a', 3n],
      ['c', 4n],
    ] as const)
      s.handle({ kind: 'point', point: gauge(host, t, 1) });
    out.length = 0;
    // b was evicted (a was touched after it): its next point is a first point again, not a change.
    s.handle({ kind: 'point', point: gauge('a', 5n, 2) });
    s.handle({ kind: 'point', point: gauge('b', 6n, 2) });
    expect(out.map((r) => (r.kind === 'point' ? r.point.tags.host : r.kind))).toEqual(['a']);
  });
});
