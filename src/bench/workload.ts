/**
 * What the benchmark sends: N stream points spread round-robin over G groups, encoded once, up front, into one buffer
 * of length-delimited Requests, so the timed part measures the sidecar and not our encoder.
 *
 * The points look like a telegraf-style series: tags host/region, a double, an int counter and a string state, and
 * nanosecond times beyond 2^53 with per-group offsets in the low digits (lost by any trip through a double).
 * Within a group the state alternates, so edgeDetect emits every point.
 */
import { encodeRequest } from '../agent/codec.js';
import type { InitOption, Point, Request } from '../agent/messages.js';

export interface Workload {
  points: number;
  groups: number;
  /** Every point Request, framed, back to back. */
  frames: Buffer;
  /** Points per group (the last groups get one fewer when N is not a multiple of G). */
  perGroup(g: number): number;
}

const REGIONS = ['eu-west', 'us-east', 'us-west', 'ap-south'];
const T0 = 1_700_000_000_123_456_789n; // > 2^53
const STEP = 10_000_000_000n; // 10 s

export function benchPoint(i: number, groups: number): Point {
  const g = i % groups;
  const k = Math.floor(i / groups);
  const host = `host-${g}`;
  const region = REGIONS[g % REGIONS.length];
  return {
    time: T0 + BigInt(k) * STEP + BigInt(g),
    name: 'cpu',
    database: 'telegraf',
    retentionPolicy: 'autogen',
    group: `host=${host},region=${region}`,
    dimensions: ['host', 'region'],
    byName: false,
    tags: { host, region },
    fieldsDouble: { usage: 50 + 40 * Math.sin(k / 7 + g) },
    fieldsInt: { requests: BigInt(k) * 1_000n + BigInt(g % 997) },
    fieldsString: { state: k % 2 === 0 ? 'UP' : 'DOWN' },
    fieldsBool: {},
  };
}

export function buildWorkload(points: number, groups: number): Workload {
  const parts: Uint8Array[] = new Array(points);
  for (let i = 0; i < points; i++) parts[i] = encodeRequest({ kind: 'point', point: benchPoint(i, groups) });
  return {
    points,
    groups,
    frames: Buffer.concat(parts),
    perGroup: (g) => Math.floor(points / groups) + (g < points % groups ? 1 : 0),
  };
}

const str = (value: string) => ({ type: 'string' as const, value });

export interface BenchFunction {
  name: string;
  /** What the Init carries. */
  options: InitOption[];
  /** Points the function emits for a group that received n points. */
  outputs(n: number): number;
}

export const BENCH_FUNCTIONS: BenchFunction[] = [
  { name: 'edgeDetect', options: [{ name: 'field', values: [str('state')] }], outputs: (n) => n },
  {
    name: 'movingAverage',
    options: [
      { name: 'field', values: [str('usage')] },
      { name: 'size', values: [{ type: 'int', value: 10n }] },
    ],
    outputs: (n) => Math.max(0, n - 9),
  },
  { name: 'rate', options: [{ name: 'field', values: [str('requests')] }], outputs: (n) => Math.max(0, n - 1) },
];

export function expectedOutputs(fn: BenchFunction, w: Workload): number {
  let total = 0;
  for (let g = 0; g < w.groups; g++) total += fn.outputs(w.perGroup(g));
  return total;
}

/** `taskId`: one per run, so that no run continues from the states an earlier one left in the state dir. */
export function initFrame(fn: BenchFunction, taskId = 'bench'): Uint8Array {
  const init: Request = { kind: 'init', options: fn.options, taskId, nodeId: `${fn.name}1` };
  return encodeRequest(init);
}

/** Sent after the points: its answer comes after every output, in order, so it marks the end of a run. */
export function sentinelFrame(): Uint8Array {
  return encodeRequest({ kind: 'keepalive', time: 1n });
}
