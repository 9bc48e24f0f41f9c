/**
 * What a function does with points: read a field, read the time, make an output point that keeps the input's
 * envelope. These work on every Point, and on the sidecar's views of received frames (wire/frame-point.ts) without
 * decoding what the function does not look at: `kindOf` tells them apart (pointLikeDouble's common case tests for a
 * view itself, to stay small enough to inline).
 */
import { HELD_POINT_OVERHEAD_BYTES } from './memory.js';
import type { EndBatch, Fields, Point } from './messages.js';
import { DerivedPoint } from './wire/derived-point.js';
import { FramePoint } from './wire/frame-point.js';
import { plainFieldValue } from './wire/plain.js';
import { Time } from './time.js';

export { plainPoint } from './wire/plain.js';

export type FieldValue = number | bigint | string | boolean;
/** A numeric field's value: a number where that is exact, a bigint for an int beyond ±2^53. */
export type Numeric = number | bigint;

const PLAIN = 0;
const FRAME = 1;
const DERIVED = 2;

function kindOf(p: Point): typeof PLAIN | typeof FRAME | typeof DERIVED {
  return p instanceof FramePoint ? FRAME : p instanceof DerivedPoint ? DERIVED : PLAIN;
}

/** The value of field `name` whatever its type, or undefined when the point lacks it. */
export function fieldValue(p: Point, name: string): FieldValue | undefined {
  return kindOf(p) === FRAME ? (p as FramePoint).field(name) : plainFieldValue(p, name);
}

/** The values of several fields, in the order named, or undefined when the point lacks one of them. */
export function fieldValues(p: Point, names: readonly string[]): FieldValue[] | undefined {
  const values = new Array<FieldValue>(names.length);
  for (let i = 0; i < names.length; i++) {
    const v = fieldValue(p, names[i]);
    if (v === undefined) return undefined;
    values[i] = v;
  }
  return values;
}

/**
 * A numeric field, exact: a float as it is, an int within ±2^53 as a number, an int beyond as a bigint; undefined when
 * absent or not numeric. No BigInt is made for the usual int (a counter), so a state keeps plain numbers; `difference`
 * subtracts two of them exactly, and `Number(v)` is the value as a float.
 */
export function numericField(p: Point, name: string): Numeric | undefined {
  const v = kindOf(p) === FRAME ? (p as FramePoint).field(name, true) : plainFieldValue(p, name, true);
  return typeof v === 'number' || typeof v === 'bigint' ? v : undefined;
}

const integral = (x: Numeric): boolean => typeof x === 'bigint' || Number.isInteger(x);

/**
 * a - b as a number: exact for two integers whose difference is within ±2^53 (however large they are), as floats
 * otherwise (a field that changed type).
 */
export function difference(a: Numeric, b: Numeric): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return integral(a) && integral(b) ? Number(BigInt(a) - BigInt(b)) : Number(a) - Number(b);
}

/**
 * The point's time as a value (no BigInt made for a view of a received frame). Given `into`, a Time the handler reuses
 * for every point, the time is written there instead of into a new one: the hot path of a function that only compares
 * times (`since`) and keeps them with `copyInto`.
 */
export function timeOf(p: Point, into?: Time): Time {
  let hi: number;
  let lo: number;
  if (kindOf(p) === FRAME) {
    hi = (p as FramePoint).timeHi | 0;
    lo = (p as FramePoint).timeLo;
  } else {
    const t = Time.of(p.time);
    if (into === undefined) return t;
    hi = t.hi;
    lo = t.lo;
  }
  if (into === undefined) return new Time(hi, lo);
  into.hi = hi;
  into.lo = lo;
  return into;
}

const nanosOf = (t: Time | bigint): bigint => (typeof t === 'bigint' ? t : t.ns);

/** A point with the envelope of `like` (name, database, rp, group, dimensions, byName, tags) and the given fields. */
export function pointLike(like: Point, time: Time | bigint, fields: Partial<Fields>): Point {
  const kind = kindOf(like);
  const ns = nanosOf(time);
  if (kind !== PLAIN) return DerivedPoint.withFields(kind === FRAME ? (like as FramePoint) : (like as DerivedPoint).source, ns, fields);
  return {
    time: ns,
    name: like.name,
    database: like.database,
    retentionPolicy: like.retentionPolicy,
    group: like.group,
    dimensions: like.dimensions,
    byName: like.byName,
    tags: like.tags,
    fieldsDouble: fields.double ?? {},
    fieldsInt: fields.int ?? {},
    fieldsString: fields.string ?? {},
    fieldsBool: fields.bool ?? {},
  };
}

/**
 * pointLike with one float field — what most functions emit (an average, a rate) — at the time of `like` unless
 * `time` is given. In the sidecar no map is built and no BigInt made: the value goes straight to the encoder.
 */
export function pointLikeDouble(like: Point, name: string, value: number, time?: Time | bigint): Point {
  // The common case first and alone: V8 inlines a function's per-point helpers within a budget of bytecode, and with
  // every case in one body the point's construction did not fit in rate's (a generic construct per answer; see
  // docs/benchmarks.md).
  if (like instanceof FramePoint && time === undefined) return new DerivedPoint(like, null, name, value);
  return pointLikeDoubleOther(like, name, value, time);
}

function pointLikeDoubleOther(like: Point, name: string, value: number, time: Time | bigint | undefined): Point {
  const own = time === undefined ? null : nanosOf(time);
  const kind = kindOf(like);
  if (kind === FRAME) return new DerivedPoint(like as FramePoint, own, name, value);
  if (kind === DERIVED) return new DerivedPoint((like as DerivedPoint).source, own ?? (like as DerivedPoint).ownTime, name, value);
  return pointLike(like, own ?? like.time, { double: { [name]: value } });
}

/**
 * Fields by the type of each value, as fieldValue reads them: a number is a float, a bigint an int. For an output
 * that carries values read from its input (a previous state) under new names.
 */
export function fieldsOf(values: Record<string, FieldValue>): Fields {
  const fields: Fields = { double: {}, int: {}, string: {}, bool: {} };
  for (const [name, v] of Object.entries(values)) {
    if (typeof v === 'number') fields.double[name] = v;
    else if (typeof v === 'bigint') fields.int[name] = v;
    else if (typeof v === 'string') fields.string[name] = v;
    else fields.bool[name] = v;
  }
  return fields;
}

/** The point with all its fields and these added (or replaced). */
export function withFields(p: Point, add: Partial<Fields>): Point {
  return pointLike(p, p.time, {
    double: { ...p.fieldsDouble, ...add.double },
    int: { ...p.fieldsInt, ...add.int },
    string: { ...p.fieldsString, ...add.string },
    bool: { ...p.fieldsBool, ...add.bool },
  });
}

/**
 * A point of an output batch, made at its end (a batch's total): Kapacitor takes a returned batch's name, tags and
 * tmax from its EndBatch, and reads only time, group, tags and fields of the points in it.
 */
export function batchPoint(end: EndBatch, time: Time | bigint, fields: Partial<Fields>): Point {
  return {
    time: nanosOf(time),
    name: end.name,
    database: '',
    retentionPolicy: '',
    group: end.group,
    dimensions: [],
    byName: end.byName,
    tags: end.tags,
    fieldsDouble: fields.double ?? {},
    fieldsInt: fields.int ?? {},
    fieldsString: fields.string ?? {},
    fieldsBool: fields.bool ?? {},
  };
}

/**
 * `x` as a state may keep it past the call, when it is a view of a received frame (a FramePoint, or a DerivedPoint
 * made from one): a copy over its own bytes, so that one held point does not pin the socket chunk it arrived in.
 * Undefined for anything else (a plain point, a kept copy is kept as it is). The agent calls it (handler.ts).
 */
export function detachedCopy(x: unknown, copies: WeakSet<object>): Point | undefined {
  if (x === null || typeof x !== 'object' || copies.has(x)) return undefined;
  const kind = kindOf(x as Point);
  if (kind === PLAIN) return undefined;
  const copy =
    kind === FRAME
      ? (x as FramePoint).kept()
      : DerivedPoint.withFields((x as DerivedPoint).source.kept(), (x as DerivedPoint).time, {
          double: (x as DerivedPoint).fieldsDouble,
          int: (x as DerivedPoint).fieldsInt,
          string: (x as DerivedPoint).fieldsString,
          bool: (x as DerivedPoint).fieldsBool,
        });
  copies.add(copy);
  return copy;
}

/** About how many bytes a point held past its call costs: its frame's bytes for a view, an estimate for an object. */
export function pointBytes(p: Point): number {
  const kind = kindOf(p);
  if (kind === FRAME) return HELD_POINT_OVERHEAD_BYTES + (p as FramePoint).frameEnd - (p as FramePoint).frameAt;
  if (kind === DERIVED) return 2 * HELD_POINT_OVERHEAD_BYTES + (p as DerivedPoint).source.frameEnd - (p as DerivedPoint).source.frameAt;
  return 4 * HELD_POINT_OVERHEAD_BYTES;
}

const isRecordOf = (x: unknown, type: string): boolean =>
  x !== null && typeof x === 'object' && !Array.isArray(x) && Object.values(x).every((v) => typeof v === type);

/** Whether `x` (read back from a snapshot) is a whole plain Point, one that can be emitted as it is. */
export function isPlainPoint(x: unknown): x is Point {
  if (x === null || typeof x !== 'object') return false;
  const p = x as Record<string, unknown>;
  return (
    typeof p.time === 'bigint' &&
    typeof p.name === 'string' &&
    typeof p.database === 'string' &&
    typeof p.retentionPolicy === 'string' &&
    typeof p.group === 'string' &&
    Array.isArray(p.dimensions) &&
    p.dimensions.every((d) => typeof d === 'string') &&
    typeof p.byName === 'boolean' &&
    isRecordOf(p.tags, 'string') &&
    isRecordOf(p.fieldsDouble, 'number') &&
    isRecordOf(p.fieldsInt, 'bigint') &&
    isRecordOf(p.fieldsString, 'string') &&
    isRecordOf(p.fieldsBool, 'boolean')
  );
}
