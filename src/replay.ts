/**
 * `udf-sidecar replay <function> <file>`: a recording through one function without Kapacitor, output as line
 * protocol. Stream functions read line protocol or .srpl; batch functions read .brpl.
 */
import { readFile } from 'node:fs/promises';
import type { Point } from './agent/messages.js';
import { formatPoint } from './line-protocol.js';
import { readBatchRecording, readLineProtocol, readStreamRecording } from './recording.js';
import { FunctionRunner, type OptionInput } from './udf/testing.js';

export interface ReplayOptions {
  options: Record<string, OptionInput | OptionInput[]>;
  /** Stream only: tags to group by, like TICKscript's groupBy; default: every tag (one group per series). */
  groupBy?: string[];
}

export async function replayFile(fnName: string, file: string, opts: ReplayOptions): Promise<string[]> {
  const runner = new FunctionRunner(fnName);
  const error = runner.init(opts.options);
  if (error) throw new Error(error);
  const bytes = await readFile(file);
  const out: string[] = [];
  if (runner.fn.edge === 'batch') {
    if (!file.endsWith('.brpl')) throw new Error(`${fnName} is a batch function: give a batch recording (.brpl)`);
    for (const b of readBatchRecording(bytes)) {
      const points: Point[] = b.points.map((p) => recordedPoint(b.name, b.group, { ...b.tags, ...p.tags }, p.time, p.fields));
      const responses = runner.batch(
        { name: b.name, group: b.group, tags: b.tags, size: BigInt(points.length), byName: b.byName },
        points,
        { name: b.name, group: b.group, tmax: b.tmax, tags: b.tags, byName: b.byName },
      );
      for (const r of responses) if (r.kind === 'point') out.push(formatPoint({ ...r.point, name: r.point.name || b.name }));
    }
    return out;
  }
  if (file.endsWith('.brpl')) throw new Error(`${fnName} is a stream function: use ${fnName}Batch for a batch recording`);
  const records = file.endsWith('.srpl') ? readStreamRecording(bytes) : readLineProtocol(bytes.toString('utf8'));
  for (const r of records) {
    const tags = r.line.tags;
    const dims = opts.groupBy ?? Object.keys(tags).sort();
    if (r.line.time === null) throw new Error(`replay needs timestamps; missing in a ${r.line.measurement} point`);
    const point: Point = {
      time: r.line.time,
      name: r.line.measurement,
      database: r.database,
      retentionPolicy: r.retentionPolicy,
      group: `${r.line.measurement}\n${dims.map((k) => `${k}=${tags[k] ?? ''}`).join(',')}`,
      dimensions: dims,
      byName: false,
      tags,
      fieldsDouble: r.line.fieldsDouble,
      fieldsInt: r.line.fieldsInt,
      fieldsString: r.line.fieldsString,
      fieldsBool: r.line.fieldsBool,
    };
    for (const p of runner.point(point)) out.push(formatPoint(p));
  }
  return out;
}

/** Batch recordings are JSON: numbers arrive as floats, as Kapacitor's own JSON batches carry them. */
function recordedPoint(name: string, group: string, tags: Record<string, string>, time: bigint, fields: Record<string, unknown>): Point {
  const p: Point = {
    time,
    name,
    database: '',
    retentionPolicy: '',
    group,
    dimensions: [],
    byName: false,
    tags,
    fieldsDouble: {},
    fieldsInt: {},
    fieldsString: {},
    fieldsBool: {},
  };
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'number') p.fieldsDouble[k] = v;
    else if (typeof v === 'string') p.fieldsString[k] = v;
    else if (typeof v === 'boolean') p.fieldsBool[k] = v;
  }
  return p;
}
