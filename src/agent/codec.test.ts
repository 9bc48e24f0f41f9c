import { describe, expect, it } from 'vitest';
import { bigIntToLong, decodeRequest, decodeResponse, encodeRequest, longToBigInt, ResponseWriter } from './codec.js';
import { DecodeError } from './errors.js';
import { FrameDecoder } from './framer.js';
import type { Point, Request, Response } from './messages.js';

const BIG_TIME = 1514979051065000001n * 3n; // > 2^53 (and < 2^63) with odd digits: lost by any trip through a double
const point: Point = {
  time: BIG_TIME,
  name: 'adsl_connection',
  database: 'telegraf',
  retentionPolicy: 'autogen',
  group: 'host=router1',
  dimensions: ['host'],
  byName: false,
  tags: { host: 'router1' },
  fieldsDouble: { snr: 6.5 },
  fieldsInt: { errors: -9007199254740993n, big: 9223372036854775807n },
  fieldsString: { value: 'SHOWTIME' },
  fieldsBool: { up: true, down: false },
};

const requests: Request[] = [
  { kind: 'info' },
  {
    kind: 'init',
    taskId: 'adsl',
    nodeId: 'edgeDetect4',
    options: [
      { name: 'field', values: [{ type: 'string', value: 'value' }] },
      { name: 'emitFirst', values: [{ type: 'bool', value: false }] },
      { name: 'size', values: [{ type: 'int', value: -5n }] },
      { name: 'max', values: [{ type: 'double', value: 4294967295.5 }] },
      { name: 'unit', values: [{ type: 'duration', value: 90_000_000_000n }] },
    ],
  },
  { kind: 'keepalive', time: BIG_TIME },
  { kind: 'snapshot' },
  { kind: 'restore', snapshot: new Uint8Array([1, 2, 3, 0, 255]) },
  { kind: 'begin', begin: { name: 'cpu', group: 'host=a', tags: { host: 'a' }, size: 3n, byName: true } },
  { kind: 'point', point },
  { kind: 'end', end: { name: 'cpu', group: 'host=a', tmax: BIG_TIME, tags: { host: 'a' }, byName: false } },
];

const responses: Response[] = [
  { kind: 'info', info: { wants: 'batch', provides: 'batch', options: { field: ['string'], size: ['int'] } } },
  { kind: 'init', success: false, error: 'option size: must be > 0' },
  { kind: 'keepalive', time: BIG_TIME },
  { kind: 'snapshot', snapshot: new Uint8Array([4, 5]) },
  { kind: 'restore', success: true, error: '' },
  { kind: 'error', error: 'boom' },
  { kind: 'begin', begin: { name: 'cpu', group: 'g', tags: {}, size: 0n, byName: false } },
  { kind: 'point', point },
  { kind: 'end', end: { name: 'cpu', group: 'g', tmax: -1n, tags: { a: 'b' }, byName: true } },
];

function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  new FrameDecoder().push(bytes, (f) => out.push(f.slice()));
  return out;
}

describe('codec', () => {
  it('round-trips every Request type exactly, int64 included', () => {
    for (const r of requests) {
      const [f] = frames(encodeRequest(r));
      expect(decodeRequest(f)).toEqual(r);
    }
  });

  it('round-trips every Response type through one batched writer', () => {
    const w = new ResponseWriter();
    for (const r of responses) w.push(r);
    expect(w.pending).toBe(responses.length);
    const bytes = w.take();
    expect(w.pending).toBe(0);
    expect(frames(bytes).map(decodeResponse)).toEqual(responses);
  });

  it('keeps nanosecond times beyond 2^53 exact', () => {
    for (const t of [0n, 1n, -1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 1514979051065000000n]) {
      expect(longToBigInt(bigIntToLong(t) as never)).toBe(t);
    }
  });

  it('rejects an empty request and a corrupt body with DecodeError', () => {
    expect(() => decodeRequest(new Uint8Array(0))).toThrow(DecodeError);
    // field 17 (point), length-delimited, claiming 100 bytes that are not there
    expect(() => decodeRequest(new Uint8Array([0x8a, 0x01, 100, 1]))).toThrow(DecodeError);
  });

  it('gives a decoded point fresh, writable maps even when the wire had none', () => {
    const bare = { ...point, tags: {}, fieldsDouble: {}, fieldsInt: {}, fieldsString: {}, fieldsBool: {} };
    const [f] = frames(encodeRequest({ kind: 'point', point: bare }));
    const got = decodeRequest(f);
    if (got.kind !== 'point') throw new Error('not a point');
    got.point.fieldsDouble.x = 1;
    got.point.tags.y = 'z';
    expect(got.point.fieldsDouble).toEqual({ x: 1 });
  });
});
