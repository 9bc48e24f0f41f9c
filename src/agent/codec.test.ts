import { fileURLToPath } from 'node:url';
import Long from 'long';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { bigIntToLong, decodeRequest, decodeResponse, encodeRequest, encodeRequestBody, longToBigInt, RequestDecoder, ResponseWriter } from './codec.js';
import { DecodeError } from './errors.js';
import { frame as delimit, FrameDecoder } from './framer.js';
import type { Point, Request, Response } from './messages.js';
import { fieldValue, numericField, plainPoint, pointLike, pointLikeDouble, timeOf, withFields } from './points.js';
import type { FramePoint } from './wire/frame-point.js';

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
  new FrameDecoder().push(bytes, (f) => out.push(new Uint8Array(f))); // a copy (Buffer#slice is a view)
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

  it('rejects a corrupt Response with DecodeError too', () => {
    expect(() => decodeResponse(new Uint8Array([0x8a, 0x01, 100, 1]))).toThrow(DecodeError);
    expect(() => decodeResponse(new Uint8Array(0))).toThrow(DecodeError);
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

// The Point fast path against protobufjs itself: the reference encodes and decodes through the generic, generated
// code (Longs converted by hand), the slow and obviously correct way.
const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/udf.proto', import.meta.url)));
const RequestPb = root.lookupType('agent.Request');
const ResponsePb = root.lookupType('agent.Response');
const PointPb = root.lookupType('agent.Point');

const toLong = (v: bigint) => Long.fromString(v.toString(), false);
const fromLong = (v: Long | undefined) => (v === undefined ? 0n : BigInt(Long.fromValue(v).toString()));

function referencePb(p: Point) {
  const ints: Record<string, Long> = {};
  for (const [k, v] of Object.entries(p.fieldsInt)) ints[k] = toLong(v);
  return { ...p, time: toLong(p.time), fieldsInt: ints };
}

function referenceDecode(body: Uint8Array): Point {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m = PointPb.toObject(PointPb.decode(body), { longs: Long, defaults: true, arrays: true, objects: true }) as any;
  const ints: Record<string, bigint> = {};
  for (const k of Object.keys(m.fieldsInt)) ints[k] = fromLong(m.fieldsInt[k]);
  return { ...m, time: fromLong(m.time), fieldsInt: ints };
}

/** The writer's bytes for a Point Response are exactly the bytes protobufjs writes for it. */
function expectProtobufjsBytes(p: Point, answering?: RequestDecoder): void {
  const w = new ResponseWriter(answering);
  w.push({ kind: 'point', point: p });
  const expected = ResponsePb.encodeDelimited({ point: referencePb(p) }).finish();
  expect(Buffer.from(w.take()).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
}

/** A point body that takes every odd turn protobufjs allows: unknown fields, wrong wire types, repeats, entries missing key or value. */
function oddPointBody(): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int64(toLong(5n)); // time, later overridden
  w.uint32((2 << 3) | 2).string('first');
  w.uint32((99 << 3) | 0).uint64(toLong(2n ** 64n - 1n)); // unknown varint, two-byte tag
  w.uint32((100 << 3) | 1).fixed64(toLong(7n)); // unknown fixed64
  w.uint32((101 << 3) | 2).bytes(new Uint8Array([1, 2, 3])); // unknown bytes
  w.uint32((102 << 3) | 5).fixed32(9); // unknown fixed32
  w.uint32((2 << 3) | 0).uint32(3); // name with the wrong wire type: skipped
  w.uint32((1 << 3) | 0).int64(toLong(BIG_TIME));
  w.uint32((2 << 3) | 2).string('second');
  w.uint32((6 << 3) | 2).string('a');
  w.uint32((6 << 3) | 2).string('b');
  w.uint32((7 << 3) | 2)
    .fork()
    .uint32((2 << 3) | 2)
    .string('no key')
    .ldelim();
  w.uint32((7 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('noValue')
    .ldelim();
  w.uint32((7 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('dup')
    .uint32((2 << 3) | 2)
    .string('1')
    .ldelim();
  w.uint32((7 << 3) | 2)
    .fork()
    .uint32((9 << 3) | 0)
    .uint32(1)
    .uint32((1 << 3) | 2)
    .string('dup')
    .uint32((2 << 3) | 2)
    .string('2')
    .ldelim();
  w.uint32((7 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('__proto__')
    .uint32((2 << 3) | 2)
    .string('own')
    .ldelim();
  w.uint32((8 << 3) | 2)
    .fork()
    .uint32((2 << 3) | 1)
    .double(1.5)
    .uint32((1 << 3) | 2)
    .string('d')
    .ldelim();
  w.uint32((8 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('wrongType')
    .uint32((2 << 3) | 0)
    .uint32(1)
    .ldelim();
  w.uint32((9 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('i')
    .uint32((2 << 3) | 0)
    .int64(toLong(-1n))
    .ldelim();
  w.uint32((9 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('noInt')
    .ldelim();
  w.uint32((12 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('b')
    .uint32((2 << 3) | 0)
    .uint64(toLong(2n ** 40n))
    .ldelim();
  w.uint32((11 << 3) | 0).uint32(2);
  return w.finish();
}

const points: Point[] = [
  point,
  { ...point, tags: {}, fieldsDouble: {}, fieldsInt: {}, fieldsString: {}, fieldsBool: {}, dimensions: [] },
  { ...point, time: 0n, name: '', database: '', retentionPolicy: '', group: '', byName: true },
  { ...point, time: -(2n ** 63n), fieldsInt: { min: -(2n ** 63n), zero: 0n, u32: 4294967295n, over: 4294967296n } },
  { ...point, time: 2n ** 63n - 1n, fieldsDouble: { nan: NaN, negZero: -0, inf: -Infinity, tiny: 5e-324 } },
  {
    ...point,
    name: 'mesure_é_温度_😀',
    tags: { hôte: 'routeur-ü', empty: '', long: 'x'.repeat(200), longUnicode: 'ø'.repeat(100) },
    fieldsString: { k: 'y'.repeat(20_000), '': 'empty key' },
    group: 'g'.repeat(130),
  },
  { ...point, fieldsInt: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, BigInt(i) * 10n ** 15n])) },
];

describe('codec: Point fast path', () => {
  it('writes the bytes protobufjs writes for a Point Response', () => {
    for (const p of points) expectProtobufjsBytes(p);
  });

  it('round-trips every point exactly, unicode, long strings and int64 extremes included', () => {
    const w = new ResponseWriter();
    for (const p of points) w.push({ kind: 'point', point: p });
    expect(frames(w.take()).map(decodeResponse)).toEqual(points.map((p) => ({ kind: 'point', point: p })));
    for (const p of points) {
      const [f] = frames(encodeRequest({ kind: 'point', point: p }));
      expect(decodeRequest(f)).toEqual({ kind: 'point', point: p });
    }
  });

  it('decodes what protobufjs decodes: unknown fields, wrong wire types, repeats, entries missing key or value', () => {
    const body = oddPointBody();
    const request = protobuf.Writer.create()
      .uint32((17 << 3) | 2)
      .bytes(body)
      .finish();

    const got = decodeRequest(request);
    if (got.kind !== 'point') throw new Error('not a point');
    expect(got.point).toEqual(referenceDecode(body));
    expect(got.point.time).toBe(BIG_TIME);
    expect(got.point.name).toBe('second');
    expect(got.point.dimensions).toEqual(['a', 'b']);
    expect(got.point.tags).toEqual({ '': 'no key', noValue: '', dup: '2', ['__proto__']: 'own' });
    expect(Object.getPrototypeOf(got.point.tags)).toBe(Object.prototype);
    expect(got.point.fieldsDouble).toEqual({ d: 1.5, wrongType: 0 });
    expect(got.point.fieldsInt).toEqual({ i: -1n, noInt: 0n });
    expect(got.point.fieldsBool).toEqual({ b: true });
    expect(got.point.byName).toBe(true);
  });

  it('falls back to protobufjs for groups and for a Request with more than the point', () => {
    const body = protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .string('cpu')
      .uint32((50 << 3) | 3)
      .uint32((1 << 3) | 0)
      .uint32(1)
      .uint32((50 << 3) | 4) // a group: skipped by protobufjs
      .finish();
    const withGroup = protobuf.Writer.create()
      .uint32((17 << 3) | 2)
      .bytes(body)
      .finish();
    expect(decodeRequest(withGroup)).toEqual({ kind: 'point', point: referenceDecode(body) });

    // Two Point fields: protobufjs merges them into one message.
    const a = encodeRequestBody({ kind: 'point', point: { ...point, tags: { a: '1' } } });
    const b = encodeRequestBody({ kind: 'point', point: { ...point, time: 1n, tags: { b: '2' } } });
    const merged = decodeRequest(Buffer.concat([a, b]));
    if (merged.kind !== 'point') throw new Error('not a point');
    expect(merged.point.tags).toEqual({ a: '1', b: '2' });
    expect(merged.point.time).toBe(1n);
    expect(merged.point.dimensions).toEqual([...point.dimensions, ...point.dimensions]);
  });

  it('rejects every truncation of a point frame and invalid UTF-8 with DecodeError', () => {
    const body = encodeRequestBody({ kind: 'point', point });
    for (let cut = 3; cut < body.length; cut++) {
      // The outer length still claims the whole point: the body is cut short inside.
      expect(() => decodeRequest(body.subarray(0, cut))).toThrow(DecodeError);
    }
    const bad = protobuf.Writer.create()
      .uint32((17 << 3) | 2)
      .fork()
      .uint32((2 << 3) | 2)
      .bytes(new Uint8Array([0x63, 0xff, 0x75]))
      .ldelim()
      .finish();
    expect(() => decodeRequest(bad)).toThrow(DecodeError);
  });

  it('never confuses strings that the string caches hold: same position, same length, other bytes', () => {
    // Consecutive points with strings that differ only slightly, at the same positions, ASCII and not: each must
    // decode to itself and encode to protobufjs's bytes, whatever the caches remember from the point before.
    const variants = ['host-1', 'host-2', 'hôst-1', 'host-1', 'hést1', 'host-2', 'x'.repeat(64), 'x'.repeat(63) + 'y', ''];
    const seq: Point[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [i, v] of variants.entries()) {
        seq.push({
          ...point,
          name: v || 'cpu',
          group: `host=${v}`,
          tags: { host: v, [v || 'empty']: v },
          fieldsString: { value: variants[(i + round) % variants.length] },
        });
      }
    }
    // One decoder, and writers that answer it: the writers look strings up in what it read.
    const decoder = new RequestDecoder({ views: false });
    for (const [i, p] of seq.entries()) {
      const [f] = frames(encodeRequest({ kind: 'point', point: p }));
      expect(decoder.decode(f)).toEqual({ kind: 'point', point: p });
      // Encode the point just decoded (its strings are what the caches hold) and the next one (they are not).
      for (const q of [p, seq[(i + 1) % seq.length]]) expectProtobufjsBytes(q, decoder);
    }
  });

  it('leaves nothing of a point it cannot encode, so what follows stays readable', () => {
    const w = new ResponseWriter();
    w.push({ kind: 'point', point });
    const broken = { ...point, tags: { host: undefined as unknown as string } };
    expect(() => w.push({ kind: 'point', point: broken })).toThrow();
    w.push({ kind: 'error', error: 'edgeDetect: cannot encode' });
    expect(frames(w.take()).map(decodeResponse)).toEqual([
      { kind: 'point', point },
      { kind: 'error', error: 'edgeDetect: cannot encode' },
    ]);
  });

  it('keeps taken output intact while later pushes fill and replace the slab', () => {
    const w = new ResponseWriter();
    const big: Point = { ...point, fieldsString: { blob: 'z'.repeat(100_000) } };
    const taken: Uint8Array[] = [];
    const copies: string[] = [];
    for (let i = 0; i < 12; i++) {
      w.push({ kind: 'point', point: { ...big, time: BigInt(i) } });
      w.push({ kind: 'keepalive', time: BigInt(i) });
      const t = w.take();
      taken.push(t);
      copies.push(Buffer.from(t).toString('base64'));
    }
    expect(taken.map((t) => Buffer.from(t).toString('base64'))).toEqual(copies);
    expect(taken.flatMap((t) => frames(t).map(decodeResponse))).toEqual(
      Array.from({ length: 12 }, (_, i) => [
        { kind: 'point', point: { ...big, time: BigInt(i) } },
        { kind: 'keepalive', time: BigInt(i) },
      ]).flat(),
    );
  });
});

/** The sidecar's decoding of a point Request: a view of the frame, by one decoder (so views share its tables). */
const viewDecoder = new RequestDecoder();
function view(frame: Uint8Array): Point {
  const r = viewDecoder.decode(frame);
  if (r.kind !== 'point') throw new Error(`not a point: ${r.kind}`);
  return r.point;
}

const pointRequest = (body: Uint8Array) =>
  protobuf.Writer.create()
    .uint32((17 << 3) | 2)
    .bytes(body)
    .finish();

/** Writes the fieldsDouble entry x = value. */
const fieldX = (w: protobuf.Writer, value: number) =>
  w
    .uint32((8 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string('x')
    .uint32((2 << 3) | 1)
    .double(value)
    .ldelim();

/**
 * What decoding a frame comes to on arrival: the error's class when it is refused (a point passed through unread must
 * be one Kapacitor can decode), else the point as plain objects and the values of `names` looked up at once (while
 * it is the point scanned last).
 */
function onArrival(decode: () => Request, names: string[] = []) {
  let r: Request;
  try {
    r = decode();
  } catch (err) {
    return (err as Error).constructor.name;
  }
  if (r.kind !== 'point') return r.kind;
  const fields = names.map((name) => fieldValue(r.point, name));
  return { point: plainPoint(r.point), fields };
}

function encodeResponses(...ps: Point[]): Uint8Array[] {
  const w = new ResponseWriter();
  for (const p of ps) w.push({ kind: 'point', point: p });
  return frames(w.take());
}

describe('point views (what the sidecar decodes)', () => {
  it('read as the whole decode reads, odd frames included, and look fields up as plain maps do', () => {
    const bodies = [...points.map((p) => PointPb.encode(referencePb(p)).finish()), oddPointBody()];
    for (const body of bodies) {
      const frame = pointRequest(body);
      const v = view(frame);
      const reference = referenceDecode(body);
      expect(plainPoint(v)).toEqual(reference);
      // The lookup reads the scan's table (the view scanned last), the frame again (a view scanned before another),
      // and the maps once the whole point is decoded.
      const names = [
        ...Object.keys(reference.fieldsDouble),
        ...Object.keys(reference.fieldsInt),
        ...Object.keys(reference.fieldsString),
        ...Object.keys(reference.fieldsBool),
        'absent',
        '',
        'constructor',
        '__proto__',
        'tôt',
      ];
      for (const name of names) {
        const older = view(frame);
        const fresh = fieldValue(view(frame), name);
        expect(fresh, name).toEqual(fieldValue(reference, name));
        expect(fieldValue(older, name), name).toEqual(fresh);
        expect(fieldValue(v, name), name).toEqual(fresh);
      }
    }
  });

  it('read ints as exact numbers within ±2^53 and as bigints beyond, with no other difference from fieldValue', () => {
    const ints = [
      0n,
      1n,
      -1n,
      2n ** 32n - 1n,
      -(2n ** 32n),
      2n ** 53n - 1n,
      2n ** 53n,
      -(2n ** 53n),
      2n ** 53n + 1n,
      -(2n ** 53n) - 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ];
    const p: Point = { ...point, fieldsInt: Object.fromEntries(ints.map((v, i) => [`i${i}`, v])), fieldsDouble: { d: 2.5, both: 1 }, fieldsString: { s: 'x' } };
    const [f] = frames(encodeRequest({ kind: 'point', point: p }));
    for (const q of [view(f), p]) {
      ints.forEach((v, i) => {
        const exact = -(2n ** 53n) <= v && v <= 2n ** 53n;
        expect(numericField(q, `i${i}`)).toBe(exact ? Number(v) : v);
      });
      expect(numericField(q, 'd')).toBe(2.5);
      expect(numericField(q, 's')).toBeUndefined();
      expect(numericField(q, 'absent')).toBeUndefined();
      expect(fieldValue(q, 'i1')).toBe(1n); // fieldValue still gives the bigint
    }
  });

  it('prefers double, int, string, bool when one name is in several maps, and the last entry of a map', () => {
    const w = protobuf.Writer.create();
    w.uint32((12 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 0)
      .uint32(1)
      .ldelim();
    w.uint32((10 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 2)
      .string('s')
      .ldelim();
    w.uint32((9 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 0)
      .int64(toLong(7n))
      .ldelim();
    w.uint32((9 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 0)
      .int64(toLong(8n))
      .ldelim();
    w.uint32((10 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('y')
      .uint32((2 << 3) | 2)
      .string('s1')
      .ldelim();
    w.uint32((12 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('y')
      .uint32((2 << 3) | 0)
      .uint32(1)
      .ldelim();
    w.uint32((10 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('y')
      .uint32((2 << 3) | 2)
      .string('s2')
      .ldelim();
    const frame = pointRequest(w.finish());
    expect(fieldValue(view(frame), 'x')).toBe(8n);
    expect(fieldValue(view(frame), 'y')).toBe('s2');
  });

  it('cannot be changed, so re-sending its bytes is always right', () => {
    const [f] = frames(encodeRequest({ kind: 'point', point }));
    const v = view(f);
    expect(() => {
      (v as { name: string }).name = 'other';
    }).toThrow(TypeError);
    expect(() => {
      v.tags.host = 'other';
    }).toThrow(TypeError);
    expect(() => {
      v.fieldsDouble.snr = 0;
    }).toThrow(TypeError);
    expect(() => {
      v.dimensions.push('x');
    }).toThrow(TypeError);
    expect(plainPoint(v)).toEqual(point);
  });

  it('leave as the bytes they came in when emitted unchanged', () => {
    const [f] = frames(encodeRequest({ kind: 'point', point }));
    const [out] = encodeResponses(view(f));
    expect(Buffer.from(out).equals(Buffer.from(f))).toBe(true);
  });

  it('passed through one after another, leave as one run of their bytes, in order with all else pushed between', () => {
    // Frames with 1-, 2- and 3-byte length prefixes, and two whose prefix is not minimal (0x85 0x00 for 5): the output
    // must carry the minimal prefix, as protobufjs writes it.
    const sized = (n: number) => ({ ...point, fieldsString: { pad: 'x'.repeat(n) } });
    const tiny: Point = { ...point, name: 'x', group: '', dimensions: [], tags: {}, fieldsDouble: {}, fieldsInt: {}, fieldsBool: {} };
    const nonMinimal = (body: Uint8Array) => {
      const prefix = [...delimit(body).subarray(0, -body.length)];
      prefix[prefix.length - 1] |= 0x80; // one byte longer than it need be: the last 7 bits are in an extra 0x00
      return Buffer.concat([Buffer.from([...prefix, 0x00]), body]);
    };
    const inputs = [tiny, sized(150), tiny, point, sized(20_000), point, tiny, tiny, point, point, tiny].map((p) =>
      encodeRequestBody({ kind: 'point', point: p }),
    );
    expect(inputs[0].length).toBeLessThan(0x80);
    const stream = Buffer.concat(inputs.map((b, i) => (i === 7 || i === 9 ? nonMinimal(b) : delimit(b))));
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 40; trial++) {
      // What the connection does: chunks of any size, points pushed as they come, one take per chunk.
      const w = new ResponseWriter();
      const expected: Uint8Array[] = [];
      const alone = (push: (w: ResponseWriter) => void) => {
        const one = new ResponseWriter();
        push(one);
        expected.push(one.take());
      };
      const out: Uint8Array[] = [];
      const decoder = new FrameDecoder();
      let k = 0;
      for (let at = 0; at < stream.length; ) {
        const end = Math.min(stream.length, at + 1 + Math.floor(random() * (trial < 20 ? 300 : 30_000)));
        decoder.pushRanges(stream.subarray(at, end), (buf, start, stop) => {
          const p = (viewDecoder.decode(buf, start, stop) as { point: Point }).point;
          expect(plainPoint(p)).toEqual(plainPoint(view(new Uint8Array(inputs[k]))));
          w.pushPoint(p);
          alone((one) => one.pushPoint(view(new Uint8Array(inputs[k])))); // the frame alone, at offset 0
          if (k % 3 === 1) {
            w.push({ kind: 'keepalive', time: BigInt(k) });
            alone((one) => one.push({ kind: 'keepalive', time: BigInt(k) }));
          }
          if (k % 4 === 2) {
            w.pushPoint(pointLikeDouble(p, 'avg', k));
            alone((one) => one.pushPoint(pointLikeDouble(view(new Uint8Array(inputs[k])), 'avg', k)));
          }
          k++;
        });
        out.push(new Uint8Array(w.take())); // a copy: the next chunk's pushes must not change what was taken
        at = end;
      }
      expect(k).toBe(inputs.length);
      expect(Buffer.concat(out).equals(Buffer.concat(expected))).toBe(true);
    }
  });

  it('re-wrapped with pointLike or withFields, encode as the same points made from plain objects', () => {
    // Two time fields (the last one counts): both before the envelope, or one before it and one after.
    const twoTimes = (last: 'before' | 'after') => {
      const w = protobuf.Writer.create();
      w.uint32((1 << 3) | 0).int64(toLong(5n));
      if (last === 'before') w.uint32((1 << 3) | 0).int64(toLong(BIG_TIME));
      w.uint32((2 << 3) | 2)
        .string('m')
        .uint32((5 << 3) | 2)
        .string('host=a');
      w.uint32((7 << 3) | 2)
        .fork()
        .uint32((1 << 3) | 2)
        .string('host')
        .uint32((2 << 3) | 2)
        .string('a')
        .ldelim();
      if (last === 'after') w.uint32((1 << 3) | 0).int64(toLong(BIG_TIME));
      w.uint32((8 << 3) | 2)
        .fork()
        .uint32((1 << 3) | 2)
        .string('d')
        .uint32((2 << 3) | 1)
        .double(1.5)
        .ldelim();
      return w.finish();
    };
    const bodies = [...points.map((p) => PointPb.encode(referencePb(p)).finish()), oddPointBody(), twoTimes('before'), twoTimes('after')];
    for (const body of bodies) {
      const frame = pointRequest(body);
      const plain = referenceDecode(body);
      const made = (p: Point) => [
        pointLike(p, p.time, { double: { avg: 1.25 } }),
        pointLike(p, 2n ** 62n + 3n, { int: { n: -(2n ** 63n) }, string: { s: 'ü' }, bool: { b: true } }),
        pointLike(pointLike(p, 5n, {}), 6n, { double: { again: 2 } }),
        pointLikeDouble(p, 'rate', -0.5),
        pointLikeDouble(p, 'rate', 0.25, 2n ** 62n + 5n),
        pointLikeDouble(pointLikeDouble(p, '__proto__', 1, 7n), 'ü', NaN, 8n),
        pointLikeDouble(pointLikeDouble(p, 'x', 1, 7n), 'y', 2),
        withFields(p, { string: { previous: 'TRAINING' }, double: { lasted: 90 } }),
      ];
      const fromView = made(view(frame));
      const fromPlain = made(plain);
      expect(encodeResponses(...fromView).map(decodeResponse)).toEqual(encodeResponses(...fromPlain).map(decodeResponse));
      expect(fromView.map(plainPoint)).toEqual(fromPlain.map(plainPoint));
    }
  });

  it('give their time as a value, with exact durations beyond 2^53 and across signs', () => {
    const times = [0n, 1n, -1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 1_700_000_000_123_456_789n, -(2n ** 62n), 2n ** 63n - 1n];
    const at = (time: bigint) => ({ ...point, time });
    for (const earlier of times) {
      for (const later of times) {
        const expected = Number(later - earlier);
        for (const [a, b] of [
          [view(frames(encodeRequest({ kind: 'point', point: at(earlier) }))[0]), view(frames(encodeRequest({ kind: 'point', point: at(later) }))[0])],
          [at(earlier), at(later)],
        ]) {
          expect(timeOf(b).since(timeOf(a))).toBe(expected);
          expect(timeOf(a).ns).toBe(earlier);
          expect(JSON.parse(JSON.stringify(timeOf(a)))).toEqual({ $time: String(earlier) }); // fit for a snapshot
        }
      }
    }
  });

  it('check the whole frame on arrival and UTF-8 when a string is read', () => {
    const body = encodeRequestBody({ kind: 'point', point });
    for (let cut = 3; cut < body.length; cut++) {
      expect(() => viewDecoder.decode(body.subarray(0, cut))).toThrow(DecodeError);
    }
    const badTag = protobuf.Writer.create();
    badTag.uint32((5 << 3) | 2).string('host=a');
    badTag
      .uint32((7 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('host')
      .uint32((2 << 3) | 2)
      .bytes(new Uint8Array([0xff]))
      .ldelim();
    badTag
      .uint32((8 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 1)
      .double(1)
      .ldelim();
    badTag
      .uint32((10 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('s')
      .uint32((2 << 3) | 2)
      .bytes(new Uint8Array([0xc3]))
      .ldelim();
    const frame = pointRequest(badTag.finish());
    // Refused on arrival, as protobufjs refuses it, though only `x` would be read: a point passed through as it came
    // must be one Kapacitor can decode.
    expect(() => view(frame)).toThrow(DecodeError);
    // The group is read when its state is first looked up.
    const badGroup = pointRequest(
      protobuf.Writer.create()
        .uint32((5 << 3) | 2)
        .bytes(new Uint8Array([0x61, 0xff]))
        .finish(),
    );
    expect(() => view(badGroup).group).toThrow(DecodeError);
  });

  it('check UTF-8 in the envelope wherever the byte lies, in a read of one point and in a long read', () => {
    // A long read's strings are checked four bytes at a time (a DataView of it), a short read's byte by byte: each
    // must decide as the whole decode does, with the odd byte at every offset of every envelope string.
    // Kapacitor writes the envelope (fields 2–7) as one run; `split` puts the field map in the middle of it.
    const envelope = (at: number, text: Uint8Array, split: boolean) => {
      const parts: Uint8Array[] = ['m', 'db', 'autogen', 'host=a', 'host', 'host', 'a'].map((x) => new TextEncoder().encode(x));
      parts[at] = text;
      const [n, db, rp, group, dimension, key, value] = parts;
      const w = protobuf.Writer.create();
      w.uint32((1 << 3) | 0).int64(toLong(BIG_TIME));
      w.uint32((2 << 3) | 2).bytes(n);
      w.uint32((3 << 3) | 2).bytes(db);
      w.uint32((4 << 3) | 2).bytes(rp);
      if (split) fieldX(w, 1.5);
      w.uint32((5 << 3) | 2).bytes(group);
      w.uint32((6 << 3) | 2).bytes(dimension);
      w.uint32((7 << 3) | 2)
        .fork()
        .uint32((1 << 3) | 2)
        .bytes(key)
        .uint32((2 << 3) | 2)
        .bytes(value)
        .ldelim();
      if (!split) fieldX(w, 1.5);
      return pointRequest(w.finish());
    };
    const plainDecoder = new RequestDecoder({ views: false });
    const odd = [[0xff], [0xc3], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0x80]];
    let refused = 0;
    for (let at = 0; at < 7; at++) {
      for (let len = 1; len <= 13; len++) {
        for (let i = 0; i < len; i++) {
          for (const bytes of odd) {
            const text = new Uint8Array(len + bytes.length - 1).fill(0x61);
            text.set(bytes, i);
            const frame = envelope(at, text, (i + len) % 2 === 0);
            const long = new Uint8Array(2048 + frame.length);
            const start = 1024 + (i % 4);
            long.set(frame, start);
            const expected = onArrival(() => plainDecoder.decode(frame));
            expect(onArrival(() => new RequestDecoder().decode(frame))).toEqual(expected);
            expect(onArrival(() => new RequestDecoder().decode(long, start, start + frame.length))).toEqual(expected);
            if (typeof expected === 'string') refused++;
          }
        }
      }
    }
    expect(refused).toBeGreaterThan(0); // invalid bytes were refused, valid UTF-8 read (the same count either way)
  });

  it('decide on a corrupt map entry as the whole decode does, whatever byte of it is changed', () => {
    // The scan checks the shape encoders write inline and leaves any other to a loop: each must refuse what the
    // whole decode refuses, take what it takes, and find the values it finds.
    const entry = (value: (w: protobuf.Writer) => protobuf.Writer) =>
      value(
        protobuf.Writer.create()
          .uint32((1 << 3) | 2)
          .string('k'),
      ).finish();
    const entries: [number, Uint8Array][] = [
      [7, entry((w) => w.uint32((2 << 3) | 2).string('v'))],
      [8, entry((w) => w.uint32((2 << 3) | 1).double(2.5))],
      [9, entry((w) => w.uint32((2 << 3) | 0).int64(toLong(-3n)))],
      [10, entry((w) => w.uint32((2 << 3) | 2).string('v'))],
      [12, entry((w) => w.uint32((2 << 3) | 0).bool(true))],
    ];
    const request = (map: number, bytes: Uint8Array) => {
      const w = protobuf.Writer.create();
      w.uint32((2 << 3) | 2).string('m');
      w.uint32((map << 3) | 2).bytes(bytes);
      fieldX(w, 1);
      return pointRequest(w.finish());
    };
    const outcome = (decoder: RequestDecoder, frame: Uint8Array) => onArrival(() => decoder.decode(frame), ['k', 'x']);
    const plainDecoder = new RequestDecoder({ views: false });
    const seen = new Set<string>();
    for (const [map, good] of entries) {
      const changed: Uint8Array[] = [good, good.subarray(0, good.length - 1), new Uint8Array([...good, 0x00])];
      for (let i = 0; i < good.length; i++) {
        for (const b of [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, good[i] + 1, good[i] - 1]) {
          const bytes = new Uint8Array(good);
          bytes[i] = b & 0xff;
          changed.push(bytes);
        }
      }
      for (const bytes of changed) {
        const frame = request(map, bytes);
        const expected = outcome(plainDecoder, frame);
        expect(outcome(viewDecoder, frame), `map ${map}, entry ${Buffer.from(bytes).toString('hex')}`).toEqual(expected);
        seen.add(typeof expected === 'string' ? expected : 'point');
      }
    }
    expect([...seen].sort()).toEqual(['DecodeError', 'point']); // both outcomes were met
  });

  it('kept, own their bytes; as JSON, are plain points', () => {
    const f = frames(encodeRequest({ kind: 'point', point }))[0];
    const v = view(f);
    const kept = (v as FramePoint).kept();
    f.fill(0);
    expect(plainPoint(kept)).toEqual(point);
    const [out] = encodeResponses(kept);
    expect(decodeResponse(out)).toEqual({ kind: 'point', point });
    const json = JSON.parse(JSON.stringify(kept, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)));
    expect(json.name).toBe(point.name);
    expect(json.time).toBe(`${point.time}n`);
    expect(json.fieldsInt).toEqual({ errors: '-9007199254740993n', big: '9223372036854775807n' });
  });
});
