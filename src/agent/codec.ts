/**
 * protobufjs at the edge: complete frames → Request, Response → length-delimited bytes. The schema is proto/udf.proto,
 * loaded once; protobufjs compiles encoders/decoders for it at load time, as fast as generated static code.
 *
 * int64 arrives from protobufjs as a Long ({low, high}) and becomes a bigint here; on the way out a bigint is split into
 * {low, high} again. No int64 ever passes through a JS number.
 *
 * Points are the whole of the traffic, so they have a hand-written fast path on both sides (point-codec.ts): same wire format, same results, without protobufjs's intermediate objects and Longs. Everything else goes
 * through protobufjs.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { DecodeError } from './errors.js';
import { ByteSink, encodePointResponse, FramePoint, readPointPlain, readPointView, setSlowPointDecoder } from './point-codec.js';
import type { BeginBatch, EdgeType, EndBatch, InitOption, OptionValue, Point, Request, Response, ValueType } from './messages.js';

// src/agent/codec.ts and dist/agent/codec.js both sit two levels below the package root, beside proto/.
const protoPath = fileURLToPath(new URL('../../proto/udf.proto', import.meta.url));
const root = protobuf.loadSync(protoPath);
const RequestType = root.lookupType('agent.Request');
const ResponseType = root.lookupType('agent.Response');

interface LongLike {
  low: number;
  high: number;
}

const EDGE: EdgeType[] = ['stream', 'batch'];
const VALUE_TYPES: ValueType[] = ['bool', 'int', 'double', 'string', 'duration'];

export function longToBigInt(v: LongLike | number | null | undefined): bigint {
  if (v == null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  if (v.high === 0) return BigInt(v.low >>> 0);
  return (BigInt(v.high) << 32n) | BigInt(v.low >>> 0);
}

export function bigIntToLong(v: bigint): LongLike {
  // The common case (|v| < 2^31) skips the BigInt shifts.
  if (v >= -0x80000000n && v <= 0x7fffffffn) {
    const low = Number(v);
    return { low, high: low < 0 ? -1 : 0 };
  }
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)) };
}

// protobufjs decoded objects; typed loosely on purpose, this file is the only reader.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Pb = any;

function intMap(m: Record<string, LongLike> | undefined): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  if (m) for (const k of Object.keys(m)) out[k] = longToBigInt(m[k]);
  return out;
}

function intMapOut(m: Record<string, bigint>): Record<string, LongLike> {
  const out: Record<string, LongLike> = {};
  for (const k of Object.keys(m)) out[k] = bigIntToLong(m[k]);
  return out;
}

// Decoded maps that were absent on the wire are protobufjs's shared frozen empty object: replace them with fresh ones
// so a function may build on them.
function own<T>(m: Record<string, T> | undefined): Record<string, T> {
  return m && Object.isFrozen(m) ? {} : (m ?? {});
}

function pointFromPb(p: Pb): Point {
  return {
    time: longToBigInt(p.time),
    name: p.name,
    database: p.database,
    retentionPolicy: p.retentionPolicy,
    group: p.group,
    dimensions: p.dimensions,
    byName: p.byName,
    tags: own(p.tags),
    fieldsDouble: own(p.fieldsDouble),
    fieldsInt: intMap(p.fieldsInt),
    fieldsString: own(p.fieldsString),
    fieldsBool: own(p.fieldsBool),
  };
}

function pointToPb(p: Point): Pb {
  return {
    time: bigIntToLong(p.time),
    name: p.name,
    database: p.database,
    retentionPolicy: p.retentionPolicy,
    group: p.group,
    dimensions: p.dimensions,
    byName: p.byName,
    tags: p.tags,
    fieldsDouble: p.fieldsDouble,
    fieldsInt: intMapOut(p.fieldsInt),
    fieldsString: p.fieldsString,
    fieldsBool: p.fieldsBool,
  };
}

function beginFromPb(b: Pb): BeginBatch {
  return { name: b.name, group: b.group, tags: own(b.tags), size: longToBigInt(b.size), byName: b.byName };
}

function beginToPb(b: BeginBatch): Pb {
  return { name: b.name, group: b.group, tags: b.tags, size: bigIntToLong(b.size), byName: b.byName };
}

function endFromPb(e: Pb): EndBatch {
  return { name: e.name, group: e.group, tmax: longToBigInt(e.tmax), tags: own(e.tags), byName: e.byName };
}

function endToPb(e: EndBatch): Pb {
  return { name: e.name, group: e.group, tmax: bigIntToLong(e.tmax), tags: e.tags, byName: e.byName };
}

function optionValueFromPb(v: Pb): OptionValue {
  switch (v.value) {
    case 'boolValue':
      return { type: 'bool', value: v.boolValue };
    case 'intValue':
      return { type: 'int', value: longToBigInt(v.intValue) };
    case 'doubleValue':
      return { type: 'double', value: v.doubleValue };
    case 'stringValue':
      return { type: 'string', value: v.stringValue };
    case 'durationValue':
      return { type: 'duration', value: longToBigInt(v.durationValue) };
    default:
      // Kapacitor always sets the oneof; fall back on the declared type with its zero value.
      return zeroValue(VALUE_TYPES[v.type] ?? 'string');
  }
}

function zeroValue(type: ValueType): OptionValue {
  switch (type) {
    case 'bool':
      return { type, value: false };
    case 'int':
    case 'duration':
      return { type, value: 0n };
    case 'double':
      return { type, value: 0 };
    case 'string':
      return { type, value: '' };
  }
}

function optionValueToPb(v: OptionValue): Pb {
  const type = VALUE_TYPES.indexOf(v.type);
  switch (v.type) {
    case 'bool':
      return { type, boolValue: v.value };
    case 'int':
      return { type, intValue: bigIntToLong(v.value) };
    case 'double':
      return { type, doubleValue: v.value };
    case 'string':
      return { type, stringValue: v.value };
    case 'duration':
      return { type, durationValue: bigIntToLong(v.value) };
  }
}

/** Decodes one complete frame (the framer guarantees completeness, so a RangeError here means a corrupt body). */
export function decodeRequest(frame: Uint8Array): Request {
  const fast = readPointPlain(frame);
  return fast !== null ? { kind: 'point', point: fast } : decodeRequestSlow(frame);
}

/**
 * What the sidecar decodes with: as decodeRequest, but a point is a view of its frame (point-codec.ts's FramePoint),
 * read as far as the function looks at it. The frame is buf[start, end); buf must not be reused while the point
 * lives, and Node's socket chunks never are.
 */
export function decodeRequestView(buf: Uint8Array, start = 0, end = buf.length): Request {
  const view = readPointView(buf, start, end);
  return view !== null ? { kind: 'point', point: view } : decodeRequestSlow(buf.subarray(start, end));
}

setSlowPointDecoder((frame) => {
  const r = decodeRequestSlow(frame);
  if (r.kind !== 'point') throw new DecodeError(`Request of ${frame.length} bytes is not a point`);
  return r.point;
});

function decodeRequestSlow(frame: Uint8Array): Request {
  let m: Pb;
  try {
    m = RequestType.decode(frame);
  } catch (err) {
    throw new DecodeError(`cannot decode Request (${frame.length} bytes): ${(err as Error).message}`, err);
  }
  switch (m.message) {
    case 'info':
      return { kind: 'info' };
    case 'init':
      return {
        kind: 'init',
        options: (m.init.options as Pb[]).map((o): InitOption => ({ name: o.name, values: (o.values as Pb[]).map(optionValueFromPb) })),
        taskId: m.init.taskID,
        nodeId: m.init.nodeID,
      };
    case 'keepalive':
      return { kind: 'keepalive', time: longToBigInt(m.keepalive.time) };
    case 'snapshot':
      return { kind: 'snapshot' };
    case 'restore':
      // Copy: the frame is a view of a socket chunk, which the snapshot must not pin.
      return { kind: 'restore', snapshot: new Uint8Array(m.restore.snapshot) };
    case 'begin':
      return { kind: 'begin', begin: beginFromPb(m.begin) };
    case 'point':
      return { kind: 'point', point: pointFromPb(m.point) };
    case 'end':
      return { kind: 'end', end: endFromPb(m.end) };
    default:
      throw new DecodeError(`Request of ${frame.length} bytes carries no known message`);
  }
}

function responseToPb(r: Response): Pb {
  switch (r.kind) {
    case 'info': {
      const options: Record<string, Pb> = {};
      for (const [name, types] of Object.entries(r.info.options)) {
        options[name] = { valueTypes: types.map((t) => VALUE_TYPES.indexOf(t)) };
      }
      return {
        info: { wants: EDGE.indexOf(r.info.wants), provides: EDGE.indexOf(r.info.provides), options },
      };
    }
    case 'init':
      return { init: { success: r.success, error: r.error } };
    case 'keepalive':
      return { keepalive: { time: bigIntToLong(r.time) } };
    case 'snapshot':
      return { snapshot: { snapshot: r.snapshot } };
    case 'restore':
      return { restore: { success: r.success, error: r.error } };
    case 'error':
      return { error: { error: r.error } };
    case 'begin':
      return { begin: beginToPb(r.begin) };
    case 'point':
      return { point: pointToPb(r.point) };
    case 'end':
      return { end: endToPb(r.end) };
  }
}

/**
 * Accumulates length-delimited Responses into one buffer, so a burst of output leaves in a single socket write.
 * Only typed Responses can be pushed: a Response with no message set (which crashes kapacitord) cannot be built.
 *
 * Bytes are written into a slab shared by successive takes: take() hands out a view of what was pushed since the last
 * take (no copy; the socket may hold it as long as it likes) and later pushes continue after it. A full slab is left to
 * the views that still use it and a new one is started.
 */
export class ResponseWriter {
  private readonly out = new ByteSink();
  private count = 0;

  push(r: Response): void {
    if (r.kind === 'point') {
      this.pushPoint(r.point);
      return;
    }
    this.out.bytes(ResponseType.encodeDelimited(responseToPb(r)).finish());
    this.count++;
  }

  pushPoint(point: Point): void {
    if (point instanceof FramePoint) {
      // Passed through: its bytes, which cannot fail to encode (and may join the frames passed through before it).
      this.out.echoFrame(point.buf, point.frameAt, point.frameEnd);
      this.count++;
      return;
    }
    // A point that cannot be encoded (a function put a non-string in a tag, say) leaves no partial frame behind:
    // the ErrorResponse that follows must be readable.
    this.out.settle(); // the mark must come after every byte pushed before
    const mark = this.out.pos - this.out.start;
    try {
      encodePointResponse(this.out, point);
    } catch (err) {
      this.out.pos = this.out.start + mark;
      throw err;
    }
    this.count++;
  }

  get pending(): number {
    return this.count;
  }

  /** The bytes pushed since the last take, and a fresh start. */
  take(): Uint8Array {
    this.count = 0;
    return this.out.take();
  }
}

// Kapacitor's side of the conversation, for test drivers, the replay command and the benchmark.

function requestToPb(r: Request): Pb {
  switch (r.kind) {
    case 'info':
      return { info: {} };
    case 'init':
      return {
        init: {
          options: r.options.map((o) => ({ name: o.name, values: o.values.map(optionValueToPb) })),
          taskID: r.taskId,
          nodeID: r.nodeId,
        },
      };
    case 'keepalive':
      return { keepalive: { time: bigIntToLong(r.time) } };
    case 'snapshot':
      return { snapshot: {} };
    case 'restore':
      return { restore: { snapshot: r.snapshot } };
    case 'begin':
      return { begin: beginToPb(r.begin) };
    case 'point':
      return { point: pointToPb(r.point) };
    case 'end':
      return { end: endToPb(r.end) };
  }
}

/** One Request as a length-delimited frame. */
export function encodeRequest(r: Request): Uint8Array {
  return RequestType.encodeDelimited(requestToPb(r)).finish();
}

/** One Request body without its length prefix (for tests that build frames by hand). */
export function encodeRequestBody(r: Request): Uint8Array {
  return RequestType.encode(requestToPb(r)).finish();
}

export function decodeResponse(frame: Uint8Array): Response {
  const m: Pb = ResponseType.decode(frame);
  switch (m.message) {
    case 'info': {
      const options: Record<string, ValueType[]> = {};
      for (const [name, info] of Object.entries(m.info.options as Record<string, Pb>)) {
        options[name] = (info.valueTypes as number[]).map((t) => VALUE_TYPES[t]);
      }
      return {
        kind: 'info',
        info: { wants: EDGE[m.info.wants], provides: EDGE[m.info.provides], options },
      };
    }
    case 'init':
      return { kind: 'init', success: m.init.success, error: m.init.error };
    case 'keepalive':
      return { kind: 'keepalive', time: longToBigInt(m.keepalive.time) };
    case 'snapshot':
      return { kind: 'snapshot', snapshot: new Uint8Array(m.snapshot.snapshot) };
    case 'restore':
      return { kind: 'restore', success: m.restore.success, error: m.restore.error };
    case 'error':
      return { kind: 'error', error: m.error.error };
    case 'begin':
      return { kind: 'begin', begin: beginFromPb(m.begin) };
    case 'point':
      return { kind: 'point', point: pointFromPb(m.point) };
    case 'end':
      return { kind: 'end', end: endFromPb(m.end) };
    default:
      throw new DecodeError('Response carries no message');
  }
}
