/**
 * The messages of Kapacitor's UDF protocol as this project sees them: discriminated unions, every int64 a `bigint`
 * (times, int fields, durations), and fields that keep the double/int/string/bool distinction through the round trip.
 * The codec converts to and from protobufjs at the edge; nothing else sees protobufjs objects.
 */

export type EdgeType = 'stream' | 'batch';
export type ValueType = 'bool' | 'int' | 'double' | 'string' | 'duration';

export type Fields = {
  double: Record<string, number>;
  int: Record<string, bigint>;
  string: Record<string, string>;
  bool: Record<string, boolean>;
};

export interface Point {
  time: bigint;
  name: string;
  database: string;
  retentionPolicy: string;
  group: string;
  dimensions: string[];
  byName: boolean;
  tags: Record<string, string>;
  fieldsDouble: Record<string, number>;
  fieldsInt: Record<string, bigint>;
  fieldsString: Record<string, string>;
  fieldsBool: Record<string, boolean>;
}

export interface BeginBatch {
  name: string;
  group: string;
  tags: Record<string, string>;
  size: bigint;
  byName: boolean;
}

export interface EndBatch {
  name: string;
  group: string;
  tmax: bigint;
  tags: Record<string, string>;
  byName: boolean;
}

export type OptionValue =
  | { type: 'bool'; value: boolean }
  | { type: 'int'; value: bigint }
  | { type: 'double'; value: number }
  | { type: 'string'; value: string }
  | { type: 'duration'; value: bigint };

export interface InitOption {
  name: string;
  values: OptionValue[];
}

export type Request =
  | { kind: 'info' }
  | { kind: 'init'; options: InitOption[]; taskId: string; nodeId: string }
  | { kind: 'keepalive'; time: bigint }
  | { kind: 'snapshot' }
  | { kind: 'restore'; snapshot: Uint8Array }
  | { kind: 'begin'; begin: BeginBatch }
  | { kind: 'point'; point: Point }
  | { kind: 'end'; end: EndBatch };

export interface InfoResponse {
  wants: EdgeType;
  provides: EdgeType;
  options: Record<string, ValueType[]>;
}

export type Response =
  | { kind: 'info'; info: InfoResponse }
  | { kind: 'init'; success: boolean; error: string }
  | { kind: 'keepalive'; time: bigint }
  | { kind: 'snapshot'; snapshot: Uint8Array }
  | { kind: 'restore'; success: boolean; error: string }
  | { kind: 'error'; error: string }
  | { kind: 'begin'; begin: BeginBatch }
  | { kind: 'point'; point: Point }
  | { kind: 'end'; end: EndBatch };

/** A point with the envelope of `like` (name, database, rp, group, dimensions, tags) and the given fields. */
export function pointLike(like: Point, time: bigint, fields: Partial<Fields>): Point {
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

/** The value of field `name` whatever its type, or undefined when the point lacks it. */
export function fieldValue(p: Point, name: string): number | bigint | string | boolean | undefined {
  // Own properties only: a field called `constructor` must not find Object.prototype's.
  if (Object.hasOwn(p.fieldsDouble, name)) return p.fieldsDouble[name];
  if (Object.hasOwn(p.fieldsInt, name)) return p.fieldsInt[name];
  if (Object.hasOwn(p.fieldsString, name)) return p.fieldsString[name];
  if (Object.hasOwn(p.fieldsBool, name)) return p.fieldsBool[name];
  return undefined;
}

/** A numeric field (double or int) as a number, or undefined when absent or not numeric. */
export function numericField(p: Point, name: string): number | undefined {
  const d = p.fieldsDouble[name];
  if (typeof d === 'number') return d;
  const i = p.fieldsInt[name];
  return typeof i === 'bigint' ? Number(i) : undefined;
}
