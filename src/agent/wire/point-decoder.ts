/**
 * The point half of a connection's request decoder: frames of one Point into views or plain objects.
 *
 *   Request := PointFrame0 PointFrame1 | length varint32 | Point      (exactly one Point: anything else is not ours)
 *
 * view() checks a frame and makes a FramePoint (point-scan.ts); plain() reads it whole into plain objects
 * (point-body.ts), for tools and test drivers. Both return null for a frame they do not take, which the caller then
 * decodes with protobufjs. The decoder owns what its views read with: the reader, the string table and the entry
 * table of the point scanned last; and it is given protobufjs's decoding of a point (`slow`), for a view whose bytes
 * its reader declines when they are read.
 */
import type { Point } from '../messages.js';
import { EntryTable, MAX_ENTRIES } from './entries.js';
import type { FramePoint, ViewReader } from './frame-point.js';
import type { FieldValue } from './plain.js';
import { plainFieldValue } from './plain.js';
import { readPointBody } from './point-body.js';
import { scanPoint } from './point-scan.js';
import { Reader } from './reader.js';
import { StringTable } from './strings.js';
import { Tag } from './tags.js';

/**
 * The bytes from which a buffer's strings are checked four bytes at a time through a DataView of it. Making one costs
 * about as many instructions as the check then saves on seven points' worth of envelope, so a read of one or two
 * points (Kapacitor writing point by point to a sidecar that keeps up) is checked byte by byte.
 */
const WIDE_READ = 1024;

export class PointDecoder implements ViewReader {
  private readonly reader: Reader;
  private readonly entries = new EntryTable();
  /** A DataView of the buffer read last (null when it is short), until release(). */
  private lastWords: DataView | null = null;
  private lastBuf: Uint8Array | null = null;

  constructor(
    /** protobufjs's decoding of a whole point Request (it throws the codec's DecodeError for a corrupt one). */
    private readonly slow: (frame: Uint8Array) => Point,
    readonly strings: StringTable = new StringTable(),
  ) {
    this.reader = new Reader(strings);
  }

  /** A view of the Request buf[start, end), or null. The view reads buf later: it must not be reused meanwhile. */
  view(buf: Uint8Array, start: number, end: number): FramePoint | null {
    const r = this.reader;
    r.at(buf, start);
    try {
      if (buf !== this.lastBuf) {
        this.lastWords = buf.byteLength >= WIDE_READ ? new DataView(buf.buffer, buf.byteOffset, buf.byteLength) : null;
        this.lastBuf = buf;
      }
      return scanPoint(r, this.entries, this, buf, this.lastWords, start, end);
    } catch {
      return null;
    } finally {
      r.release();
    }
  }

  /** Forgets the buffer read last (its DataView), so that a connection waiting for more does not keep it alive. */
  release(): void {
    this.lastWords = null;
    this.lastBuf = null;
  }

  /** The whole point of the Request buf[start, end) as plain objects, or null. */
  plain(buf: Uint8Array, start: number, end: number): Point | null {
    if (end - start < 3 || buf[start] !== Tag.PointFrame0 || buf[start + 1] !== Tag.PointFrame1) return null;
    const r = this.reader;
    r.at(buf, start + 2);
    try {
      const len = r.varint32(end);
      if (r.pos + len !== end) return null;
      return readPointBody(r, end);
    } catch {
      return null;
    } finally {
      r.release();
    }
  }

  whole(p: FramePoint): Point {
    const r = this.reader;
    r.at(p.buf, p.bodyAt);
    let d: Point;
    try {
      d = readPointBody(r, p.frameEnd);
    } catch {
      // Declined, or invalid UTF-8 (a TypeError): protobufjs decides, as for a frame the scan declined.
      d = this.slow(p.buf.subarray(p.frameAt, p.frameEnd));
    } finally {
      r.release();
    }
    Object.freeze(d.dimensions);
    Object.freeze(d.tags);
    Object.freeze(d.fieldsDouble);
    Object.freeze(d.fieldsInt);
    Object.freeze(d.fieldsString);
    Object.freeze(d.fieldsBool);
    return d;
  }

  group(p: FramePoint): string {
    try {
      return this.strings.at(p.buf, p.groupAt, p.groupEnd);
    } catch {
      return this.whole(p).group; // not valid UTF-8: protobufjs refuses it with a DecodeError
    }
  }

  words(buf: Uint8Array): DataView | null {
    return buf === this.lastBuf ? this.lastWords : null;
  }

  int64(lo: number, hi: number): bigint {
    return this.reader.scratch.bigint(lo, hi);
  }

  field(p: FramePoint, name: string, intsAsNumbers: boolean): FieldValue | undefined {
    const table = this.entries;
    // The entries' layout: from the scan when this is the point scanned last (the usual case), else scanned again.
    if (table.of !== p && this.view(p.buf, p.frameAt, p.frameEnd) !== null && table.count <= MAX_ENTRIES) table.of = p;
    if (table.of !== p) return plainFieldValue(p, name, intsAsNumbers);
    const buf = p.buf;
    const end = p.frameEnd;
    const count = table.count;
    // The value of the last matching entry of each map; -1 none, -2 an entry without a value (the zero value).
    let doubleAt = -1;
    let intAt = -1;
    let textAt = -1;
    let boolAt = -1;
    // Keys are compared as bytes with the name's UTF-8 (cached): no string is read character by character, which
    // costs a property lookup per character once strings of several kinds have passed through the same code.
    const key = this.strings.utf8(name);
    const n = key.length;
    const { kind, keyAt, keyLen, valueAt } = table;
    for (let k = 0; k < count; k++) {
      if (keyLen[k] !== n) continue;
      const at = keyAt[k];
      let i = 0;
      while (i < n && buf[at + i] === key[i]) i++;
      if (i !== n) continue;
      const map = kind[k];
      if (map === Tag.FieldsDouble) doubleAt = valueAt[k];
      else if (map === Tag.FieldsInt) intAt = valueAt[k];
      else if (map === Tag.FieldsString) textAt = valueAt[k];
      else boolAt = valueAt[k];
    }
    const r = this.reader;
    try {
      if (doubleAt !== -1) {
        if (doubleAt === -2) return 0;
        r.at(buf, doubleAt);
        return r.double(end);
      }
      if (intAt !== -1) {
        if (intAt === -2) return intsAsNumbers ? 0 : 0n;
        r.at(buf, intAt);
        r.int64(end);
        const hi = r.hi;
        // Within ±2^53 the number is exact: no BigInt is made.
        if (intsAsNumbers && (hi < 0x200000 || hi >= 0xffe00000 || (hi === 0x200000 && r.lo === 0))) return (hi | 0) * 4294967296 + r.lo;
        return r.bigint();
      }
      if (textAt !== -1) {
        if (textAt === -2) return '';
        r.at(buf, textAt);
        return r.string(end);
      }
      if (boolAt !== -1) {
        if (boolAt === -2) return false;
        r.at(buf, boolAt);
        return r.bool(end);
      }
      return undefined;
    } catch {
      // A string that is not valid UTF-8: the whole decode decides (protobufjs, which refuses it with a DecodeError).
    } finally {
      r.release();
    }
    return plainFieldValue(p, name, intsAsNumbers);
  }
}
