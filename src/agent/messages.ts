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
