/**
 * What a function does with points: read a field, make an output point that keeps the input's envelope, keep a point
 * past the call. These work on every Point, and on the sidecar's views of received frames (wire/frame-point.ts) without
 * decoding what the function does not look at.
 */
import { HELD_POINT_OVERHEAD_BYTES } from './memory.js';
import type { Fields, Point } from './messages.js';
import { DerivedPoint } from './wire/derived-point.js';
import { FramePoint } from './wire/frame-point.js';
import { type HeldTime, plainFieldValue, splitInt64 } from './wire/plain.js';

export type { HeldTime } from './wire/plain.js';
export { splitInt64 } from './wire/plain.js';

export { plainPoint } from './wire/plain.js';

export type FieldValue = number | bigint | string | boolean;

/** The value of field `name` whatever its type, or undefined when the point lacks it. */
export function fieldValue(p: Point, name: string): FieldValue | undefined {
  return p instanceof FramePoint ? p.field(name) : plainFieldValue(p, name);
}

/**
 * A numeric field as a number where that is exact — a float, an int within ±2^53 — and an int beyond as a bigint;
 * undefined when absent or not numeric. No BigInt is made for the usual int (a counter), which a function then keeps
 * in its state as a plain number.
 */
export function exactNumericField(p: Point, name: string): number | bigint | undefined {
  const v = p instanceof FramePoint ? p.field(name, true) : plainFieldValue(p, name, true);
  return typeof v === 'number' || typeof v === 'bigint' ? v : undefined;
}

/** A numeric field (double or int) as a number, or undefined when absent or not numeric. */
export function numericField(p: Point, name: string): number | undefined {
  const v = exactNumericField(p, name);
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A point with the envelope of `like` (name, database, rp, group, dimensions, byName, tags) and the given fields. */
export function pointLike(like: Point, time: bigint, fields: Partial<Fields>): Point {
  if (like instanceof FramePoint) return new DerivedPoint(like, time, fields);
  if (like instanceof DerivedPoint) return new DerivedPoint(like.source, time, fields);
  return {
    time,
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
export function pointLikeDouble(like: Point, name: string, value: number, time?: bigint): Point {
  const own = time ?? null;
  if (like instanceof FramePoint) return new DerivedPoint(like, own, null, name, value);
  if (like instanceof DerivedPoint) return new DerivedPoint(like.source, own ?? like.ownTime, null, name, value);
  return pointLike(like, time ?? like.time, { double: { [name]: value } });
}

/**
 * Keeps p's time in `held` (a group's state) as two 32-bit numbers. A function that remembers the last time of every
 * group (a rate, a window) would otherwise keep a fresh BigInt per point; halves are plain data, snapshots included.
 */
export function holdTime(held: HeldTime, p: Point): void {
  if (p instanceof FramePoint) {
    held.timeLo = p.timeLo;
    held.timeHi = p.timeHi | 0;
  } else splitInt64(p.time, held);
}

const scratch: HeldTime = { timeHi: 0, timeLo: 0 };

/**
 * p's time minus the held one, in nanoseconds, as a number: a duration, exact up to 2^53 ns (104 days), rounded to
 * double precision beyond — never a timestamp.
 */
export function nanosSince(held: HeldTime, p: Point): number {
  if (p instanceof FramePoint) return ((p.timeHi | 0) - held.timeHi) * 4294967296 + (p.timeLo - held.timeLo);
  splitInt64(p.time, scratch);
  return (scratch.timeHi - held.timeHi) * 4294967296 + (scratch.timeLo - held.timeLo);
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
 * The point, safe to keep in a group's state past the call: a view of a received frame gets its own copy of the
 * bytes (so it does not pin the socket chunk it arrived in); any other point is returned as it is.
 */
export function keepPoint(p: Point): Point {
  return p instanceof FramePoint ? p.kept() : p;
}

/** About how many bytes a point held past its call costs: its frame's bytes for a view, an estimate for an object. */
export function pointBytes(p: Point): number {
  if (p instanceof FramePoint) return HELD_POINT_OVERHEAD_BYTES + p.frameEnd - p.frameAt;
  if (p instanceof DerivedPoint) return 2 * HELD_POINT_OVERHEAD_BYTES + p.source.frameEnd - p.source.frameAt;
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
