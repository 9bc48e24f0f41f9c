/**
 * A Point Response, the bytes protobufjs writes for it (field order, defaults skipped, map entries with both key and
 * value), written straight into the output slab:
 *
 *   frame    := length varint | PointFrame0 PointFrame1 | length varint | Point
 *   Point    := 1:time int64 | 2:name | 3:database | 4:retentionPolicy | 5:group | 6:dimensions* | 7:tags Entry*
 *             | 8:fieldsDouble Entry* | 9:fieldsInt Entry* | 10:fieldsString Entry* | 11:byName | 12:fieldsBool Entry*
 *   Entry<V> := 1:key string | 2:value V
 *
 * A view emitted unchanged is its own frame; a point re-wrapped from a view copies the view's envelope (fields 2–7)
 * as one run; what pointLikeDouble made — one float field — is written straight through, its size known up front.
 * One encoder per ResponseWriter, given its connection's string table.
 */
import type { Point } from '../messages.js';
import { type ByteSink, varintSize } from './byte-sink.js';
import { DerivedPoint } from './derived-point.js';
import { FramePoint } from './frame-point.js';
import { HI, LO, Scratch } from './scratch.js';
import { MAX_CACHED_STRING, POSITIONS, type StringTable } from './strings.js';
import { EntryTag, Tag } from './tags.js';

const MAX_ENTRY_HEADS = 50_000;
const EMPTY = new Uint8Array(0);

export class PointEncoder {
  /** The string written at each position of the point written last, with its bytes. */
  private readonly atString: string[] = new Array<string>(POSITIONS).fill('');
  private readonly atBytes: Uint8Array[] = new Array<Uint8Array>(POSITIONS).fill(EMPTY);
  private index = 0;
  /** Guesses for the length varints of the next frame and point: the size of the previous ones. */
  private frameGuess = 2;
  private pointGuess = 2;
  private readonly entryHeads = new Map<string, Uint8Array>();
  private recentHeadName = '';
  private recentHead: Uint8Array = EMPTY;
  private readonly scratch = new Scratch();

  constructor(private readonly strings: StringTable) {}

  encode(out: ByteSink, p: Point): void {
    if (p instanceof FramePoint) {
      // Emitted as it came: its frame is the Response.
      out.echoFrame(p.buf, p.frameAt, p.frameEnd);
      return;
    }
    const source = p instanceof DerivedPoint && p.source.envAt >= 0 ? p.source : null;
    if (source !== null && (p as DerivedPoint).onlyDouble !== null) {
      this.oneDouble(out, p as DerivedPoint, source);
      return;
    }
    this.index = 0;
    const fg = this.frameGuess;
    const pg = this.pointGuess;
    const frameAt = out.open(fg);
    out.byte2(Tag.PointFrame0, Tag.PointFrame1);
    const pointAt = out.open(pg);
    if (p.time !== 0n) out.int64(Tag.Time, p.time);
    if (source !== null) out.range(source.buf, source.envAt, source.envEnd);
    else {
      if (p.name !== '') this.string(out, Tag.Name, p.name);
      if (p.database !== '') this.string(out, Tag.Database, p.database);
      if (p.retentionPolicy !== '') this.string(out, Tag.RetentionPolicy, p.retentionPolicy);
      if (p.group !== '') this.string(out, Tag.Group, p.group);
      for (const d of p.dimensions) this.string(out, Tag.Dimensions, d);
      const tags = p.tags;
      for (const k of Object.keys(tags)) {
        const e = out.entry(Tag.Tags);
        this.string(out, EntryTag.Key, k);
        this.string(out, EntryTag.String, tags[k]);
        out.close(e, 1);
      }
    }
    const { fieldsDouble, fieldsInt, fieldsString, fieldsBool } = p;
    for (const k of Object.keys(fieldsDouble)) {
      const e = out.entry(Tag.FieldsDouble);
      this.string(out, EntryTag.Key, k);
      out.double(EntryTag.Double, fieldsDouble[k]);
      out.close(e, 1);
    }
    for (const k of Object.keys(fieldsInt)) {
      const e = out.entry(Tag.FieldsInt);
      this.string(out, EntryTag.Key, k);
      out.int64(EntryTag.Varint, fieldsInt[k]);
      out.close(e, 1);
    }
    for (const k of Object.keys(fieldsString)) {
      const e = out.entry(Tag.FieldsString);
      this.string(out, EntryTag.Key, k);
      this.string(out, EntryTag.String, fieldsString[k]);
      out.close(e, 1);
    }
    if (p.byName) out.byte2(Tag.ByName, 1);
    for (const k of Object.keys(fieldsBool)) {
      const e = out.entry(Tag.FieldsBool);
      this.string(out, EntryTag.Key, k);
      out.byte2(EntryTag.Varint, fieldsBool[k] ? 1 : 0);
      out.close(e, 1);
    }
    const pointLen = out.pos - out.start - pointAt;
    out.close(pointAt, pg);
    this.pointGuess = varintSize(pointLen);
    const frameLen = out.pos - out.start - frameAt;
    out.close(frameAt, fg);
    this.frameGuess = varintSize(frameLen);
  }

  /**
   * tag, then a length-delimited string. Short strings are mostly the same few (names, keys, group ids): their bytes
   * are looked up, not re-encoded. A stream function emits while its input is being handled, mostly with the input's
   * strings in the input's order: the decoder's string at the same position (bytes at hand, no lookup) comes first,
   * then the string written at this position last time, then the string table's Map.
   */
  private string(out: ByteSink, tag: number, s: string): void {
    if (s.length > MAX_CACHED_STRING) {
      out.utf8String(tag, s);
      return;
    }
    const k = this.index++;
    const strings = this.strings;
    if (k < POSITIONS && strings.positionString[k] === s) {
      out.lengthDelimited(tag, strings.positionArena, k * MAX_CACHED_STRING, strings.positionLength[k]);
      return;
    }
    let bytes: Uint8Array;
    if (k < POSITIONS && this.atString[k] === s) bytes = this.atBytes[k];
    else {
      bytes = strings.utf8(s);
      if (k < POSITIONS) {
        this.atString[k] = s;
        this.atBytes[k] = bytes;
      }
    }
    out.lengthDelimited(tag, bytes, 0, bytes.length);
  }

  /** What pointLikeDouble makes of a view — the output of an average or a rate. */
  private oneDouble(out: ByteSink, p: DerivedPoint, source: FramePoint): void {
    const head = this.entryHeadOf(p.onlyDouble as string);
    // The envelope, and the time with it when the output keeps the input's time and it lies right before.
    let runAt = source.envAt;
    let timeLen = 0;
    let tlo = 0;
    let thi = 0;
    const own = p.ownTime;
    if (own === null && source.timeAt >= 0) runAt = source.timeAt;
    else {
      tlo = source.timeLo;
      thi = source.timeHi;
      if (own !== null) {
        const s = this.scratch;
        s.int64[0] = own;
        tlo = s.halves[LO];
        thi = s.halves[HI];
      }
      timeLen = tlo === 0 && thi === 0 ? 0 : 1 + varint64Size(tlo, thi);
    }
    const pointLen = timeLen + (source.envEnd - runAt) + head.length + 8 + (source.byName ? 2 : 0);
    const frameLen = 2 + varintSize(pointLen) + pointLen;
    out.ensure(5 + frameLen);
    out.varint32(frameLen);
    out.byte2(Tag.PointFrame0, Tag.PointFrame1);
    out.varint32(pointLen);
    if (timeLen !== 0) {
      out.byte(Tag.Time);
      out.varint64(tlo, thi);
    }
    out.range(source.buf, runAt, source.envEnd);
    out.short(head);
    out.float64(p.onlyValue);
    if (source.byName) out.byte2(Tag.ByName, 1);
  }

  /**
   * A fieldsDouble entry for `name`, all but its 8 value bytes: tag, entry length, key tag, key length, key, value tag.
   * The same for every point a function emits, so made once per name.
   */
  private entryHeadOf(name: string): Uint8Array {
    if (name === this.recentHeadName) return this.recentHead;
    let head = this.entryHeads.get(name);
    if (head === undefined) {
      const key = Buffer.from(name, 'utf8');
      const entryLen = 1 + varintSize(key.length) + key.length + 9;
      head = new Uint8Array([Tag.FieldsDouble, ...varintBytes(entryLen), EntryTag.Key, ...varintBytes(key.length), ...key, EntryTag.Double]);
      if (this.entryHeads.size >= MAX_ENTRY_HEADS) this.entryHeads.clear();
      this.entryHeads.set(name, head);
    }
    this.recentHeadName = name;
    this.recentHead = head;
    return head;
  }
}

function varintBytes(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v >>>= 7) out.push((v & 0x7f) | 0x80);
  out.push(v);
  return out;
}

/** The size of a 64-bit varint from its halves (10 bytes for a negative int64). */
function varint64Size(l: number, h: number): number {
  if (h === 0) return l === 0 ? 1 : Math.ceil((32 - Math.clz32(l)) / 7);
  return Math.ceil((64 - Math.clz32(h)) / 7);
}
