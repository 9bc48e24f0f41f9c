/**
 * Points as plain objects, and a time as plain numbers:
 *
 *   Point    := the maps and strings of messages.ts, own properties only
 *   HeldTime := timeHi int32 | timeLo uint32      (an int64 as two numbers: plain data, fit for a snapshot)
 */
import type { Point } from '../messages.js';

export type FieldValue = number | bigint | string | boolean;

/** The largest magnitude up to which every integer is a double. */
const EXACT = 2n ** 53n;

/** A time held as two 32-bit halves, plain numbers (points.ts: holdTime, nanosSince). */
export interface HeldTime {
  /** The high 32 bits, signed. */
  timeHi: number;
  /** The low 32 bits, unsigned. */
  timeLo: number;
}

/** Writes an int64 into held as its halves. */
export function splitInt64(v: bigint, held: HeldTime): void {
  held.timeLo = Number(BigInt.asUintN(32, v));
  held.timeHi = Number(BigInt.asIntN(32, v >> 32n));
}

/** Any point as a plain object with its own maps, for tests and tools that compare or modify points. */
export function plainPoint(p: Point): Point {
  return {
    time: p.time,
    name: p.name,
    database: p.database,
    retentionPolicy: p.retentionPolicy,
    group: p.group,
    dimensions: [...p.dimensions],
    byName: p.byName,
    tags: { ...p.tags },
    fieldsDouble: { ...p.fieldsDouble },
    fieldsInt: { ...p.fieldsInt },
    fieldsString: { ...p.fieldsString },
    fieldsBool: { ...p.fieldsBool },
  };
}

/** The value of field `name` of a point whose maps are at hand; own properties only (a field named `constructor`). */
export function plainFieldValue(p: Point, name: string, intsAsNumbers = false): FieldValue | undefined {
  if (Object.hasOwn(p.fieldsDouble, name)) return p.fieldsDouble[name];
  if (Object.hasOwn(p.fieldsInt, name)) {
    const v = p.fieldsInt[name];
    return intsAsNumbers && v >= -EXACT && v <= EXACT ? Number(v) : v;
  }
  if (Object.hasOwn(p.fieldsString, name)) return p.fieldsString[name];
  if (Object.hasOwn(p.fieldsBool, name)) return p.fieldsBool[name];
  return undefined;
}
