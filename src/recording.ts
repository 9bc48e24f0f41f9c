/**
 * Reading what `udf-sidecar replay` accepts, told apart by their first bytes: line protocol, Kapacitor stream
 * recordings (.srpl: gzip of database / retention policy / line-protocol triples) and batch recordings (.brpl: a zip
 * with one entry per query, each a sequence of JSON batches).
 */
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { SidecarError } from './errors.js';
import { parseLine, type ParsedLine } from './line-protocol.js';

export interface StreamRecord {
  database: string;
  retentionPolicy: string;
  line: ParsedLine;
}

export interface RecordedBatch {
  name: string;
  group: string;
  byName: boolean;
  tags: Record<string, string>;
  tmax: bigint;
  points: { time: bigint; tags: Record<string, string>; fields: Record<string, unknown> }[];
}

/**
 * Turns the lines of line protocol or of an uncompressed stream recording into records, one line at a time, so a
 * recording of any length is read in constant memory. Sans-IO: the caller feeds lines. A bad line is named by its
 * number in the source.
 */
export class StreamRecordReader {
  private lineNumber = 0;
  private pending: string[] = [];

  constructor(
    private readonly format: 'line-protocol' | 'stream-recording',
    private readonly source: string,
  ) {}

  /** The record a line completes, if any. */
  line(text: string): StreamRecord | undefined {
    this.lineNumber++;
    if (this.format === 'line-protocol') {
      if (text.trim() === '' || text.startsWith('#')) return undefined;
      return { database: '', retentionPolicy: '', line: this.parse(text) };
    }
    // .srpl: database, retention policy and one line-protocol point, three lines per record.
    this.pending.push(text);
    if (this.pending.length < 3) return undefined;
    const [database, retentionPolicy, point] = this.pending;
    this.pending = [];
    return { database, retentionPolicy, line: this.parse(point) };
  }

  private parse(text: string): ParsedLine {
    try {
      return parseLine(text);
    } catch (err) {
      throw new SidecarError('INPUT_INVALID', `${this.source} line ${this.lineNumber}: ${(err as Error).message}`);
    }
  }
}

export function readStreamRecording(gz: Uint8Array): StreamRecord[] {
  const reader = new StreamRecordReader('stream-recording', 'stream recording');
  return gunzipSync(gz)
    .toString('utf8')
    .split('\n')
    .flatMap((l) => reader.line(l) ?? []);
}

/** What a recording's first bytes say it is: gzip is a stream recording, zip a batch recording, text line protocol. */
export function recordingFormat(head: Uint8Array): 'stream-recording' | 'batch-recording' | 'line-protocol' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'stream-recording';
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'batch-recording';
  return 'line-protocol';
}

/** RFC 3339 with up to nanosecond digits → epoch ns, exactly (Date alone keeps only milliseconds). */
export function parseRfc3339(text: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 time: ${text}`);
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) throw new Error(`not an RFC 3339 time: ${text}`);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(seconds) * 1_000_000n + frac;
}

/** The entries of a zip archive (stored or deflated), read through its central directory. */
export function unzip(zip: Uint8Array): Map<string, Buffer> {
  const buf = Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end-of-central-directory record)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(dataStart, dataStart + size);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`zip entry ${name}: compression method ${method} not supported`);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Splits concatenated JSON values (Go's json.Encoder output) without assuming one per line. */
function jsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) {
      out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

export function readBatchRecording(zip: Uint8Array): RecordedBatch[] {
  const entries = [...unzip(zip).entries()].sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b));
  const batches: RecordedBatch[] = [];
  for (const [, data] of entries) {
    for (const raw of jsonValues(data.toString('utf8'))) {
      const b = raw as Record<string, unknown>;
      const points = (b.points as Record<string, unknown>[] | null) ?? [];
      batches.push({
        name: String(b.name ?? ''),
        group: String(b.group ?? ''),
        byName: Boolean(b.byname),
        tags: (b.tags as Record<string, string>) ?? {},
        tmax: parseRfc3339(String(b.tmax)),
        points: points.map((p) => ({
          time: parseRfc3339(String(p.time)),
          tags: (p.tags as Record<string, string>) ?? {},
          fields: (p.fields as Record<string, unknown>) ?? {},
        })),
      });
    }
  }
  return batches;
}
