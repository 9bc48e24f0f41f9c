/**
 * The messages of messages.ts as protobufjs's message objects and back, for every message but the points the
 * hand-written codec takes (and for those too, when it declines them):
 *
 *   int64   := Long {low, high} ⇄ bigint           (never through a JS number)
 *   enum    := number ⇄ 'stream' | 'batch', 'bool' | 'int' | 'double' | 'string' | 'duration'
 *   map     := object; an absent map becomes a fresh, writable one
 */
import type { BeginBatch, EdgeType, EndBatch, OptionValue, Point, ValueType } from '../messages.js';

export interface LongLike {
  low: number;
  high: number;
}

export const EDGE: readonly EdgeType[] = Object.freeze(['stream', 'batch']);
export const VALUE_TYPES: readonly ValueType[] = Object.freeze(['bool', 'int', 'double', 'string', 'duration']);

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

/** A protobufjs message object; typed loosely on purpose, this file and codec.ts are its only readers. */
export type Pb = any;

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

export function pointFromPb(p: Pb): Point {
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

export function pointToPb(p: Point): Pb {
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

export function beginFromPb(b: Pb): BeginBatch {
  return { name: b.name, group: b.group, tags: own(b.tags), size: longToBigInt(b.size), byName: b.byName };
}

export function beginToPb(b: BeginBatch): Pb {
  return { name: b.name, group: b.group, tags: b.tags, size: bigIntToLong(b.size), byName: b.byName };
}

export function endFromPb(e: Pb): EndBatch {
  return { name: e.name, group: e.group, tmax: longToBigInt(e.tmax), tags: own(e.tags), byName: e.byName };
}

export function endToPb(e: EndBatch): Pb {
  return { name: e.name, group: e.group, tmax: bigIntToLong(e.tmax), tags: e.tags, byName: e.byName };
}

export function optionValueFromPb(v: Pb): OptionValue {
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

export function optionValueToPb(v: OptionValue): Pb {
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
