/**
 * `udf-sidecar replay <function> <file|->`: a recording through one function without Kapacitor, output as line
 * protocol. Stream functions read line protocol or a stream recording (.srpl), batch functions a batch recording
 * (.brpl); the format is told by the first bytes, so stdin works too. Stream input is read and written a line at a time
 * (memory stays flat whatever the length); a batch recording is a zip, read whole. When nothing comes out, the summary
 * says why, from what the input held.
 */
import { once } from 'node:events';
import { SidecarError, UsageError } from './errors.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ServedFunction } from './agent/handler.js';
import type { Point } from './agent/messages.js';
import { formatPoint } from './line-protocol.js';
import { readBatchRecording, recordingFormat, StreamRecordReader, type StreamRecord } from './recording.js';
import { FunctionRunner, type OptionInput } from './udf/testing.js';

export interface ReplayOptions {
  options: Record<string, OptionInput | OptionInput[]>;
  /** Stream only: tags to group by, like TICKscript's groupBy; default: every tag (one group per series). */
  groupBy?: string[];
}

export interface ReplaySummary {
  pointsIn: number;
  pointsOut: number;
  /** What in the input explains an empty output, or looks like a mistake (a --group-by tag no point has). */
  notes: string[];
}

/** Where output lines go: a promise means "wait before the next line" (backpressure); `closed` stops the replay. */
export interface LineSink {
  write(line: string): Promise<void> | void;
  readonly closed: boolean;
}

/** Runs `input` (a path, or a stream such as stdin) through the function, handing each output line to `sink`. */
export async function replay(fnName: string, input: string | Readable, opts: ReplayOptions, sink: LineSink): Promise<ReplaySummary> {
  const runner = new FunctionRunner(fnName);
  const error = runner.init(opts.options);
  if (error) throw new SidecarError('UDF_OPTION', error);
  const source = typeof input === 'string' ? input : 'stdin';
  const { format, stream } = await sniff(typeof input === 'string' ? createReadStream(input) : input, source);
  const seen = new InputTally(runner.fn, opts);
  let pointsOut = 0;
  const emit = async (line: string) => {
    pointsOut++;
    await sink.write(line);
  };

  if (runner.fn.edge === 'batch') {
    if (format !== 'batch-recording') throw new UsageError(`${fnName} is a batch function: give a batch recording (.brpl)`);
    for (const b of readBatchRecording(await readAll(stream))) {
      const points: Point[] = b.points.map((p) => recordedPoint(b.name, b.group, { ...b.tags, ...p.tags }, p.time, p.fields));
      points.forEach((p) => seen.point(p));
      const responses = runner.batch({ name: b.name, group: b.group, tags: b.tags, size: BigInt(points.length), byName: b.byName }, points, {
        name: b.name,
        group: b.group,
        tmax: b.tmax,
        tags: b.tags,
        byName: b.byName,
      });
      for (const r of responses) if (r.kind === 'point') await emit(formatPoint({ ...r.point, name: r.point.name || b.name }));
      if (sink.closed) break;
    }
    return { pointsIn: seen.points, pointsOut, notes: seen.notes(pointsOut) };
  }

  if (format === 'batch-recording') throw new UsageError(`${fnName} is a stream function: use ${fnName}Batch for a batch recording`);
  const reader = new StreamRecordReader(format, source);
  const text = format === 'stream-recording' ? stream.pipe(createGunzip()).once('error', (e) => stream.destroy(e)) : stream;
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const record = reader.line(line);
      if (!record) continue;
      const point = streamPoint(record, opts.groupBy);
      seen.point(point);
      for (const p of runner.point(point)) await emit(formatPoint(p));
      if (sink.closed) break;
    }
  } catch (err) {
    throw readError(err, source, format);
  } finally {
    lines.close();
    stream.destroy();
  }
  return { pointsIn: seen.points, pointsOut, notes: seen.notes(pointsOut) };
}

/** The whole output as an array: for tests and small recordings. */
export async function replayFile(fnName: string, file: string, opts: ReplayOptions): Promise<string[]> {
  const out: string[] = [];
  await replay(fnName, file, opts, { write: (l) => void out.push(l), closed: false });
  return out;
}

function streamPoint(r: StreamRecord, groupBy: string[] | undefined): Point {
  const tags = r.line.tags;
  const dims = groupBy ?? Object.keys(tags).sort();
  if (r.line.time === null) throw new SidecarError('INPUT_INVALID', `replay needs timestamps; missing in a ${r.line.measurement} point`);
  return {
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

/**
 * What the input held, as far as it explains an empty output: the type of the `field` option's field in each point,
 * and which points carry each `--group-by` tag. Counts only: constant memory.
 */
class InputTally {
  points = 0;
  private readonly field: string | undefined;
  private readonly fieldTypes = { number: 0, string: 0, bool: 0, missing: 0 };
  private readonly tagged = new Map<string, number>();

  constructor(
    private readonly fn: ServedFunction,
    private readonly opts: ReplayOptions,
  ) {
    const field = opts.options.field;
    this.field = field === undefined ? undefined : String(Array.isArray(field) ? field[0] : field);
    for (const tag of opts.groupBy ?? []) this.tagged.set(tag, 0);
  }

  point(p: Point): void {
    this.points++;
    const f = this.field;
    if (f !== undefined) {
      if (f in p.fieldsDouble || f in p.fieldsInt) this.fieldTypes.number++;
      else if (f in p.fieldsString) this.fieldTypes.string++;
      else if (f in p.fieldsBool) this.fieldTypes.bool++;
      else this.fieldTypes.missing++;
    }
    for (const [tag, n] of this.tagged) if (tag in p.tags) this.tagged.set(tag, n + 1);
  }

  notes(pointsOut: number): string[] {
    const name = this.fn.name;
    const groups = [...this.tagged]
      .filter(([, n]) => n === 0)
      .map(([tag]) => `no point has the tag '${tag}' given to --group-by: it grouped nothing (every point has ${tag}="")`);
    if (pointsOut > 0) return groups;
    if (this.points === 0) return [`nothing came out of ${name}: the input held no points`];
    const out: string[] = [];
    const f = this.field;
    const t = this.fieldTypes;
    if (f !== undefined && t.number === 0) {
      const held = (['string', 'bool', 'missing'] as const)
        .filter((k) => t[k] > 0)
        .map((k) => (k === 'missing' ? `absent from ${t[k]}` : `a ${k} in ${t[k]}`))
        .join(', ');
      const wants = this.fn.definition.options.field?.doc;
      out.push(`field '${f}' is ${held} of the ${this.points} points${wants ? ` (${name} field: ${wants})` : ''}`);
    }
    out.push(...groups);
    if (out.length === 0) {
      const options = Object.entries(this.opts.options)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');
      out.push(`${this.points} points went in and none came out: check the options (${options})`);
    }
    return [`nothing came out of ${name}: ${out[0]}`, ...out.slice(1)];
  }
}

/** Reads the first chunk to tell the format, and gives back a stream that still starts with it. */
async function sniff(input: Readable, source: string): Promise<{ format: ReturnType<typeof recordingFormat>; stream: Readable }> {
  const chunks = input[Symbol.asyncIterator]();
  let first: IteratorResult<Buffer | string>;
  try {
    first = await chunks.next();
  } catch (err) {
    throw readError(err, source, 'line-protocol');
  }
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  async function* rest() {
    if (head.length > 0) yield head;
    for (let c = await chunks.next(); !c.done; c = await chunks.next()) yield Buffer.from(c.value);
  }
  return { format: recordingFormat(head), stream: Readable.from(rest(), { objectMode: false }) };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function readError(err: unknown, source: string, format: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return new SidecarError('PATH_INVALID', `${source}: no such file`);
  if (e.code === 'EACCES') return new SidecarError('PATH_INVALID', `${source}: permission denied`);
  if (e.code === 'EISDIR') return new SidecarError('PATH_INVALID', `${source} is a directory: give a recording file`);
  if (e.code?.startsWith('Z_')) return new SidecarError('INPUT_INVALID', `${source}: not a valid ${format} (${e.message})`);
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Output lines to a stream, a chunk at a time, waiting for `drain` when the reader is slower. A reader that goes away
 * (`| head -1`: EPIPE) closes the sink, which ends the replay quietly.
 */
export class StreamLineSink implements LineSink {
  private buffer = '';
  private failure: Error | undefined;
  closed = false;

  constructor(private readonly out: Writable) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') this.failure = err;
      this.closed = true;
    });
  }

  write(line: string): Promise<void> | void {
    this.buffer += line + '\n';
    if (this.buffer.length >= 64 * 1024) return this.flush();
  }

  /** Writes what is buffered; call once at the end. Throws what the stream failed with (but EPIPE). */
  async flush(): Promise<void> {
    if (!this.closed && this.buffer !== '') {
      const ok = this.out.write(this.buffer);
      this.buffer = '';
      // `once` rejects on 'error'; the listener above has already recorded it.
      if (!ok) await once(this.out, 'drain').catch(() => undefined);
    }
    if (this.failure) throw this.failure;
  }
}
