/**
 * The codec's hot path. codec.ts falls back on protobufjs for every other message, and for any frame this file declines.
 *
 * Decoding: a Request that is exactly one Point (tag 17, length, body — what Kapacitor sends for every point) is read
 * without protobufjs, two ways. The sidecar reads a view (FramePoint): the frame is checked whole, but only the time,
 * the group and the fields a function asks for are read; the rest is decoded if and when something asks. Tools and
 * test drivers read the whole point into plain objects (readPointPlain). Both mirror protobufjs's generated decoder
 * field by field: last value wins for scalars, map entries with absent key or value get the zero value, a field with
 * an unexpected wire type or an unknown number is skipped, "__proto__" keys become own properties, strings are strict
 * UTF-8 (protobufjs's own reader). Anything they do not handle — a group, a varint longer than they allow, a truncated
 * or corrupt body, invalid UTF-8 — makes them give up, and the frame is decoded by protobufjs, which then returns the
 * same value or throws its own error. So the fast path changes speed, never results.
 *
 * int64 is read as two 32-bit halves and becomes a bigint, when asked for, through a BigInt64Array: one allocation, no
 * BigInt arithmetic (and the reverse on the way out). Short ASCII strings come from caches (see readString), not
 * fresh decoding.
 *
 * Encoding: the same bytes protobufjs writes for a Point Response (field order, defaults skipped, map entries with
 * both key and value), written straight into the output slab; a view emitted unchanged is its own frame, and a point
 * re-wrapped from a view copies the view's envelope bytes.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import type { Point } from './messages.js';

/** Thrown inside the fast path to hand the frame to protobufjs; never escapes this file. */
const GIVE_UP = new Error('point fast path declined');

const TAG_POINT_0 = 0x8a; // field 17, wire type 2, as a two-byte varint
const TAG_POINT_1 = 0x01;

const EMPTY = new Uint8Array(0);
/** The frame being read (released after each, so a socket chunk is not kept alive) and the read position. */
let rb: Uint8Array = EMPTY;
let rp = 0;
/** The halves of the last int64 read. */
let lo = 0;
let hi = 0;

const f64 = new Float64Array(1);
/** An int64 built from its halves through memory: one BigInt allocation, no BigInt arithmetic. */
const int64Value = new BigInt64Array(1);
const int64Halves = new Uint32Array(int64Value.buffer);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([-0]).buffer)[7] === 0x80;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const utf8 = protobuf.util.utf8;
// Node's Buffer method, undeclared in @types/node; it accepts any Uint8Array.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/** A varint of at most 4 bytes (< 2^28): tags and lengths. Longer ones are left to protobufjs. */
function readVarint32(end: number): number {
  if (rp >= end) throw GIVE_UP;
  let b = rb[rp++];
  if (b < 0x80) return b;
  let v = b & 0x7f;
  if (rp >= end) throw GIVE_UP;
  b = rb[rp++];
  v |= (b & 0x7f) << 7;
  if (b < 0x80) return v;
  if (rp >= end) throw GIVE_UP;
  b = rb[rp++];
  v |= (b & 0x7f) << 14;
  if (b < 0x80) return v;
  if (rp >= end) throw GIVE_UP;
  b = rb[rp++];
  v |= (b & 0x7f) << 21;
  if (b < 0x80) return v;
  throw GIVE_UP;
}

/** A 64-bit varint into (lo, hi), bit for bit as protobufjs reads it (10 bytes at most). */
function readLong(end: number): void {
  let b = 0;
  lo = 0;
  hi = 0;
  for (let i = 0; i < 4; i++) {
    if (rp >= end) throw GIVE_UP;
    b = rb[rp++];
    lo |= (b & 0x7f) << (i * 7);
    if (b < 0x80) {
      lo >>>= 0;
      return;
    }
  }
  if (rp >= end) throw GIVE_UP;
  b = rb[rp++];
  lo = (lo | ((b & 0x7f) << 28)) >>> 0;
  hi = (b & 0x7f) >> 4;
  if (b < 0x80) return;
  for (let i = 0; i < 5; i++) {
    if (rp >= end) throw GIVE_UP;
    b = rb[rp++];
    hi = (hi | ((b & 0x7f) << (i * 7 + 3))) >>> 0;
    if (b < 0x80) return;
  }
  throw GIVE_UP;
}

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
  int64Value[0] = v;
  held.timeLo = int64Halves[LO];
  held.timeHi = int64Halves[HI] | 0;
}

/** (lo, hi) as a signed int64 bigint, without passing through a number when it exceeds 2^53. */
function longValue(): bigint {
  int64Halves[LO] = lo;
  int64Halves[HI] = hi;
  return int64Value[0];
}

function readBool(end: number): boolean {
  let value = false;
  for (let i = 0; i < 10; i++) {
    if (rp >= end) throw GIVE_UP;
    const b = rb[rp++];
    if (b & 0x7f) value = true;
    if (b < 0x80) return value;
  }
  throw GIVE_UP;
}

function readDouble(end: number): number {
  if (rp + 8 > end) throw GIVE_UP;
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) f64Bytes[i] = rb[rp + i];
  else for (let i = 0; i < 8; i++) f64Bytes[7 - i] = rb[rp + i];
  rp += 8;
  return f64[0];
}

/**
 * Recently decoded short ASCII strings, by a hash of their bytes. The same names, tag keys and values, field keys and
 * group ids arrive point after point: returning the string decoded last time spares an allocation, and, because it is
 * the same string, the map lookups and property stores downstream find its hash already computed. Each slot keeps a
 * copy of its bytes in one arena, so a hit is a byte comparison.
 */
const STRING_CACHE_BITS = 16;
const MAX_CACHED_STRING = 64;
const stringCache: string[] = new Array<string>(1 << STRING_CACHE_BITS).fill('');
const stringArena = new Uint8Array(MAX_CACHED_STRING << STRING_CACHE_BITS);

/**
 * Before the hash, the string read at the same position of the previous point: points of a series repeat name,
 * database, dimensions and keys in the same order, so most strings are found with one comparison and no hashing.
 */
const POSITIONS = 32;
const positionString: string[] = new Array<string>(POSITIONS).fill('');
const positionLength = new Uint8Array(POSITIONS);
const positionArena = new Uint8Array(POSITIONS * MAX_CACHED_STRING);
let stringIndex = 0;

function readString(end: number): string {
  const len = readVarint32(end);
  const start = rp;
  const stop = start + len;
  if (stop > end) throw GIVE_UP;
  rp = stop;
  return stringAt(rb, start, stop);
}

/** The string in buf[start, stop); strict UTF-8 (a TypeError otherwise). */
function stringAt(buf: Uint8Array, start: number, stop: number): string {
  const len = stop - start;
  if (len === 0) return '';
  if (len > MAX_CACHED_STRING) return utf8.readStrict(buf, start, stop);
  const k = stringIndex++;
  if (k < POSITIONS && positionLength[k] === len) {
    const at = k * MAX_CACHED_STRING;
    let i = 0;
    while (i < len && positionArena[at + i] === buf[start + i]) i++;
    if (i === len) return positionString[k];
  }
  const s = cachedString(buf, start, stop);
  if (k < POSITIONS && s !== null) {
    positionString[k] = s;
    positionLength[k] = len;
    const at = k * MAX_CACHED_STRING;
    for (let i = 0; i < len; i++) positionArena[at + i] = buf[start + i];
  }
  return s ?? utf8.readStrict(buf, start, stop);
}

/** A short ASCII string from the hash cache, or null when it is not ASCII. */
function cachedString(buf: Uint8Array, start: number, stop: number): string | null {
  const len = stop - start;
  let h = 0x811c9dc5 ^ len;
  let bits = 0;
  for (let i = start; i < stop; i++) {
    const b = buf[i];
    bits |= b;
    h = Math.imul(h ^ b, 0x01000193);
  }
  if (bits & 0x80) return null;
  const slot = (h ^ (h >>> STRING_CACHE_BITS)) & ((1 << STRING_CACHE_BITS) - 1);
  const cached = stringCache[slot];
  const at = slot * MAX_CACHED_STRING;
  if (cached.length === len) {
    let i = 0;
    while (i < len && stringArena[at + i] === buf[start + i]) i++;
    if (i === len) return cached;
  }
  // ASCII, so Latin-1 decoding is UTF-8 decoding, and Node's gives a flat one-byte string in one native call.
  const s = latin1Slice.call(buf, start, stop);
  for (let i = 0; i < len; i++) stringArena[at + i] = buf[start + i];
  stringCache[slot] = s;
  return s;
}

/** Skips an unknown field (or a known one with an unexpected wire type), as protobufjs's skipType does. */
function skipField(tag: number, end: number): void {
  if (tag >>> 3 === 0) throw GIVE_UP;
  switch (tag & 7) {
    case 0:
      do {
        if (rp >= end) throw GIVE_UP;
      } while (rb[rp++] & 0x80);
      return;
    case 1:
      rp += 8;
      break;
    case 2:
      rp += readVarint32(end);
      break;
    case 5:
      rp += 4;
      break;
    default:
      throw GIVE_UP; // groups and invalid wire types
  }
  if (rp > end) throw GIVE_UP;
}

function setEntry<T>(map: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(map, key, { value, enumerable: true, configurable: true, writable: true });
  } else {
    map[key] = value;
  }
}

/** The end of the map entry starting at rp (after its length). */
function entryEnd(end: number): number {
  const len = readVarint32(end);
  const e = rp + len;
  if (e > end) throw GIVE_UP;
  return e;
}

function readStringEntry(map: Record<string, string>, end: number): void {
  const e = entryEnd(end);
  let k = '';
  let v = '';
  while (rp < e) {
    const t = readVarint32(e);
    if (t === 0x0a) k = readString(e);
    else if (t === 0x12) v = readString(e);
    else skipField(t, e);
  }
  setEntry(map, k, v);
}

function readPoint(end: number): Point {
  stringIndex = 0;
  let time = 0n;
  let name = '';
  let database = '';
  let retentionPolicy = '';
  let group = '';
  const dimensions: string[] = [];
  let byName = false;
  const tags: Record<string, string> = {};
  const fieldsDouble: Record<string, number> = {};
  const fieldsInt: Record<string, bigint> = {};
  const fieldsString: Record<string, string> = {};
  const fieldsBool: Record<string, boolean> = {};
  while (rp < end) {
    const t = readVarint32(end);
    switch (t) {
      case 0x08: // 1 time
        readLong(end);
        time = longValue();
        continue;
      case 0x12: // 2 name
        name = readString(end);
        continue;
      case 0x1a: // 3 database
        database = readString(end);
        continue;
      case 0x22: // 4 retentionPolicy
        retentionPolicy = readString(end);
        continue;
      case 0x2a: // 5 group
        group = readString(end);
        continue;
      case 0x32: // 6 dimensions
        dimensions.push(readString(end));
        continue;
      case 0x3a: // 7 tags
        readStringEntry(tags, end);
        continue;
      case 0x42: {
        // 8 fieldsDouble
        const e = entryEnd(end);
        let k = '';
        let v = 0;
        while (rp < e) {
          const et = readVarint32(e);
          if (et === 0x0a) k = readString(e);
          else if (et === 0x11) v = readDouble(e);
          else skipField(et, e);
        }
        setEntry(fieldsDouble, k, v);
        continue;
      }
      case 0x4a: {
        // 9 fieldsInt
        const e = entryEnd(end);
        let k = '';
        let v = 0n;
        while (rp < e) {
          const et = readVarint32(e);
          if (et === 0x0a) k = readString(e);
          else if (et === 0x10) {
            readLong(e);
            v = longValue();
          } else skipField(et, e);
        }
        setEntry(fieldsInt, k, v);
        continue;
      }
      case 0x52: // 10 fieldsString
        readStringEntry(fieldsString, end);
        continue;
      case 0x58: // 11 byName
        byName = readBool(end);
        continue;
      case 0x62: {
        // 12 fieldsBool
        const e = entryEnd(end);
        let k = '';
        let v = false;
        while (rp < e) {
          const et = readVarint32(e);
          if (et === 0x0a) k = readString(e);
          else if (et === 0x10) v = readBool(e);
          else skipField(et, e);
        }
        setEntry(fieldsBool, k, v);
        continue;
      }
      default:
        skipField(t, end);
    }
  }
  return {
    time,
    name,
    database,
    retentionPolicy,
    group,
    dimensions,
    byName,
    tags,
    fieldsDouble,
    fieldsInt,
    fieldsString,
    fieldsBool,
  };
}

/**
 * A whole Point, decoded into plain objects, from a Request that is exactly one Point; null when protobufjs must decode
 * the frame (see the top of this file). The decoder of test drivers and tools; the sidecar reads views (below).
 */
export function readPointPlain(frame: Uint8Array): Point | null {
  const bodyAt = pointBodyAt(frame, 0, frame.length);
  if (bodyAt < 0) return null;
  rb = frame;
  rp = bodyAt;
  try {
    return readPoint(frame.length);
  } catch {
    return null;
  } finally {
    rb = EMPTY;
  }
}

/** Where the body of a Request that is exactly one Point starts, or -1; the Request is buf[start, end). */
function pointBodyAt(buf: Uint8Array, start: number, end: number): number {
  if (end - start < 3 || buf[start] !== TAG_POINT_0 || buf[start + 1] !== TAG_POINT_1) return -1;
  rb = buf;
  rp = start + 2;
  try {
    const len = readVarint32(end);
    return rp + len === end ? rp : -1;
  } catch {
    return -1;
  } finally {
    rb = EMPTY;
  }
}

// ---- Points as views of their frame ----------------------------------------------------------------------------

type FieldValue = number | bigint | string | boolean;

/** protobufjs's decoding of a whole point Request; set by codec.ts, which owns the schema. */
let slowPointDecoder: (frame: Uint8Array) => Point = () => {
  throw new Error('point codec: no protobufjs decoder registered');
};

export function setSlowPointDecoder(decode: (frame: Uint8Array) => Point): void {
  slowPointDecoder = decode;
}

/**
 * A Point read from its frame. The sidecar's functions look at one or two fields of a point and pass on, or re-wrap,
 * the rest: so the frame is checked whole when it arrives (every tag, length and varint, so a corrupt frame is refused
 * at once), but only the time's halves and byName are read then. A field asked for with fieldValue() is found in the
 * frame without building any map; any other property decodes the whole point once, into frozen maps.
 *
 * Emitted as it is, the point goes out as the bytes it came in (a Request and a Response holding one Point are the
 * same bytes: both use field 17); re-wrapped with pointLike(), its envelope bytes (name … tags) are copied rather
 * than decoded and encoded again. Nothing can change a FramePoint — its properties are getters, its maps frozen — so
 * those bytes are always the point's.
 *
 * Strings are checked for valid UTF-8 when read, not on arrival (the group when its state is first looked up): a point
 * passed through unread is passed through as Kapacitor sent it. The frame is a view of the received bytes, which the
 * connection never reuses; keepPoint() copies it for a function that holds a point past the call, so that one held
 * point does not pin a whole socket chunk.
 */
export class FramePoint implements Point {
  private timeValue: bigint | undefined = undefined;
  private groupValue: string | undefined = undefined;
  private decoded: Point | undefined = undefined;

  constructor(
    /** The Request frame is buf[frameAt, frameEnd): tag 17, length, then the point's body up to the end. */
    readonly buf: Uint8Array,
    readonly frameAt: number,
    readonly frameEnd: number,
    private readonly bodyAt: number,
    /** The time's low and high 32 bits, both unsigned: read without making a BigInt (see holdTime in points.ts). */
    readonly timeLo: number,
    readonly timeHi: number,
    /** The group's UTF-8 bytes are buf[groupAt, groupEnd) (empty when the point has none). */
    readonly groupAt: number,
    readonly groupEnd: number,
    readonly byName: boolean,
    /** The bytes of fields 2–7 (name … tags) as one run, or envAt = -1 when other fields are interleaved. */
    readonly envAt: number,
    readonly envEnd: number,
    /** Where the first field-map entry starts (the frame's end when there is none). */
    private readonly fieldsAt: number,
    /** Where the time field starts when it ends where the envelope starts (one run with it), else -1. */
    readonly timeAt: number,
  ) {}

  get time(): bigint {
    let t = this.timeValue;
    if (t === undefined) {
      int64Halves[LO] = this.timeLo;
      int64Halves[HI] = this.timeHi;
      t = this.timeValue = int64Value[0];
    }
    return t;
  }

  /** Read when asked for: the session finds a group's state by its bytes (GroupStates.getByBytes). */
  get group(): string {
    let g = this.groupValue;
    if (g === undefined) {
      try {
        g = stringAt(this.buf, this.groupAt, this.groupEnd);
      } catch {
        g = this.whole().group; // not valid UTF-8: protobufjs refuses it with a DecodeError
      }
      this.groupValue = g;
    }
    return g;
  }

  get name(): string {
    return this.whole().name;
  }
  get database(): string {
    return this.whole().database;
  }
  get retentionPolicy(): string {
    return this.whole().retentionPolicy;
  }
  get dimensions(): string[] {
    return this.whole().dimensions;
  }
  get tags(): Record<string, string> {
    return this.whole().tags;
  }
  get fieldsDouble(): Record<string, number> {
    return this.whole().fieldsDouble;
  }
  get fieldsInt(): Record<string, bigint> {
    return this.whole().fieldsInt;
  }
  get fieldsString(): Record<string, string> {
    return this.whole().fieldsString;
  }
  get fieldsBool(): Record<string, boolean> {
    return this.whole().fieldsBool;
  }

  /**
   * The value of field `name`, whatever its type (double, then int, string, bool when a name is in several maps; the
   * last entry of a map wins), or undefined: read from the frame, no map built.
   */
  field(name: string, intsAsNumbers = false): FieldValue | undefined {
    if (this.decoded !== undefined) return plainFieldValue(this.whole(), name, intsAsNumbers);
    const buf = this.buf;
    const end = this.frameEnd;
    rb = buf;
    try {
      // The entries' layout: from the scan when this is the point scanned last (the usual case), else scanned again.
      if (entriesOf !== this && readPointView(buf, this.frameAt, end) !== null && entryCount <= MAX_ENTRIES) {
        entriesOf = this;
      }
      if (entriesOf !== this) return plainFieldValue(this.whole(), name, intsAsNumbers);
      const count = entryCount;
      // The value of the last matching entry of each map; -1 none, -2 an entry without a value (the zero value).
      let doubleAt = -1;
      let intAt = -1;
      let textAt = -1;
      let boolAt = -1;
      // Keys are compared as bytes with the name's UTF-8 (cached): no string is read character by character, which
      // costs a property lookup per character once strings of several kinds have passed through the same code.
      const key = utf8Of(name);
      const n = key.length;
      for (let k = 0; k < count; k++) {
        if (entryKeyLen[k] !== n) continue;
        const at = entryKeyAt[k];
        let i = 0;
        while (i < n && buf[at + i] === key[i]) i++;
        if (i !== n) continue;
        const kind = entryKind[k];
        if (kind === 0x42) doubleAt = entryValueAt[k];
        else if (kind === 0x4a) intAt = entryValueAt[k];
        else if (kind === 0x52) textAt = entryValueAt[k];
        else boolAt = entryValueAt[k];
      }
      if (doubleAt !== -1) {
        if (doubleAt === -2) return 0;
        rp = doubleAt;
        return readDouble(end);
      }
      if (intAt !== -1) {
        if (intAt === -2) return intsAsNumbers ? 0 : 0n;
        rp = intAt;
        readLong(end);
        // Within ±2^53 the number is exact: no BigInt is made.
        if (intsAsNumbers && (hi < 0x200000 || hi >= 0xffe00000 || (hi === 0x200000 && lo === 0))) {
          return (hi | 0) * 4294967296 + lo;
        }
        return longValue();
      }
      if (textAt !== -1) {
        if (textAt === -2) return '';
        rp = textAt;
        return readString(end);
      }
      if (boolAt !== -1) {
        if (boolAt === -2) return false;
        rp = boolAt;
        return readBool(end);
      }
      return undefined;
    } catch {
      // A string that is not valid UTF-8: the whole decode decides (protobufjs, which refuses it with a DecodeError).
    } finally {
      rb = EMPTY;
    }
    return plainFieldValue(this.whole(), name, intsAsNumbers);
  }

  /** The same point over its own copy of the bytes, for a function that keeps a point past the call. */
  kept(): FramePoint {
    const shift = this.frameAt;
    const copy = new FramePoint(
      this.buf.slice(this.frameAt, this.frameEnd),
      0,
      this.frameEnd - shift,
      this.bodyAt - shift,
      this.timeLo,
      this.timeHi,
      this.groupAt - shift,
      this.groupEnd - shift,
      this.byName,
      this.envAt < 0 ? -1 : this.envAt - shift,
      this.envEnd - shift,
      this.fieldsAt - shift,
      this.timeAt < 0 ? -1 : this.timeAt - shift,
    );
    copy.timeValue = this.timeValue;
    copy.groupValue = this.groupValue;
    copy.decoded = this.decoded;
    return copy;
  }

  /** Snapshots (JSON) and logs see a plain point. */
  toJSON(): Point {
    return plainPoint(this);
  }

  private whole(): Point {
    let d = this.decoded;
    if (d === undefined) {
      rb = this.buf;
      rp = this.bodyAt;
      try {
        d = readPoint(this.frameEnd);
      } catch {
        // GIVE_UP, or invalid UTF-8 (readStrict throws): protobufjs decides, as for a frame the view declined.
        d = slowPointDecoder(this.buf.subarray(this.frameAt, this.frameEnd));
      } finally {
        rb = EMPTY;
      }
      Object.freeze(d.dimensions);
      Object.freeze(d.tags);
      Object.freeze(d.fieldsDouble);
      Object.freeze(d.fieldsInt);
      Object.freeze(d.fieldsString);
      Object.freeze(d.fieldsBool);
      this.decoded = d;
    }
    return d;
  }
}

const NO_FIELDS = Object.freeze({}) as Record<string, never>;

/**
 * A point made by pointLike() from a FramePoint: the source's envelope (name, database, rp, group, dimensions,
 * byName, tags) with its own time and fields. Encoded with the source's envelope bytes copied.
 */
export class DerivedPoint implements Point {
  private doubles: Record<string, number> | null;
  readonly fieldsInt: Record<string, bigint>;
  readonly fieldsString: Record<string, string>;
  readonly fieldsBool: Record<string, boolean>;

  constructor(
    readonly source: FramePoint,
    /** The point's own time, or null for the source's (no BigInt is made for it unless asked for). */
    readonly ownTime: bigint | null,
    fields: {
      double?: Record<string, number>;
      int?: Record<string, bigint>;
      string?: Record<string, string>;
      bool?: Record<string, boolean>;
    } | null,
    /** The one float field of a point made by pointLikeDouble (no map is built unless asked for), or null. */
    readonly onlyDouble: string | null = null,
    readonly onlyValue = 0,
  ) {
    this.doubles = fields?.double ?? (onlyDouble === null ? NO_FIELDS : null);
    this.fieldsInt = fields?.int ?? NO_FIELDS;
    this.fieldsString = fields?.string ?? NO_FIELDS;
    this.fieldsBool = fields?.bool ?? NO_FIELDS;
  }

  get time(): bigint {
    return this.ownTime ?? this.source.time;
  }

  get fieldsDouble(): Record<string, number> {
    let d = this.doubles;
    if (d === null) d = this.doubles = Object.freeze({ [this.onlyDouble as string]: this.onlyValue });
    return d;
  }

  get name(): string {
    return this.source.name;
  }
  get database(): string {
    return this.source.database;
  }
  get retentionPolicy(): string {
    return this.source.retentionPolicy;
  }
  get group(): string {
    return this.source.group;
  }
  get dimensions(): string[] {
    return this.source.dimensions;
  }
  get byName(): boolean {
    return this.source.byName;
  }
  get tags(): Record<string, string> {
    return this.source.tags;
  }

  toJSON(): Point {
    return plainPoint(this);
  }
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

/**
 * The layout of the field-map entries of one point: map (its tag), key offset and length, value offset (-2: none).
 * The scan fills it for the point it reads, so a function's field lookups on that point walk no bytes but the keys.
 */
const MAX_ENTRIES = 64;
const entryKind = new Int32Array(MAX_ENTRIES);
const entryKeyAt = new Int32Array(MAX_ENTRIES);
const entryKeyLen = new Int32Array(MAX_ENTRIES);
const entryValueAt = new Int32Array(MAX_ENTRIES);
let entryCount = 0;
/** The point the table describes (null: none, or more entries than it holds). */
let entriesOf: FramePoint | null = null;
/**
 * A view of the Request buf[start, end) when it is exactly one Point, or null when protobufjs must decode it. Checks
 * the whole frame, reads only the time's halves and byName, and notes where the group is and the layout of the field
 * entries.
 *
 * This runs for every point, so it keeps its position in a local and reads one-byte tags and lengths inline (the
 * helpers above keep theirs in module variables, which costs several times as much per byte).
 */
export function readPointView(buf: Uint8Array, start: number, end: number): FramePoint | null {
  if (end - start < 3 || buf[start] !== TAG_POINT_0 || buf[start + 1] !== TAG_POINT_1) return null;
  let p = start + 2;
  let n = buf[p++];
  if (n >= 0x80) {
    n = varintAt(buf, p - 1, end);
    p = varintEnd;
  }
  if (n < 0 || p + n !== end) return null;
  const bodyAt = p;
  stringIndex = 0;
  entriesOf = null;
  let timeLo = 0;
  let timeHi = 0;
  let timeAt = -1;
  let timeEnd = -1;
  let groupAt = 0;
  let groupEnd = 0;
  let byName = false;
  let envAt = -1;
  let envEnd = -1;
  let envSplit = false;
  let fieldsAt = end;
  let entries = 0;
  while (p < end) {
    const at = p;
    let t = buf[p++];
    if (t >= 0x80) {
      t = varintAt(buf, at, end);
      if (t < 0) return null;
      p = varintEnd;
    }
    if ((t & 7) !== 2 || t > 0x62) {
      if (t === 0x08) {
        p = longAt(buf, p, end);
        timeLo = lo;
        timeHi = hi;
        timeAt = at;
        timeEnd = p;
      } else if (t === 0x58) {
        p = boolAt(buf, p, end);
        byName = boolValue;
      } else p = skipAt(buf, p, end, t);
      if (p < 0) return null;
      continue;
    }
    // Length-delimited, fields 0 to 12.
    if (p >= end) return null;
    let len = buf[p++];
    if (len >= 0x80) {
      len = varintAt(buf, p - 1, end);
      p = varintEnd;
    }
    const stop = p + len;
    if (len < 0 || stop > end) return null;
    // Bytes passed through unread must be what Kapacitor can decode: strings valid UTF-8. ASCII (the usual case) is
    // seen by or-ing the bytes; anything else is checked exactly, or left to the codec, which refuses invalid UTF-8.
    if (t !== 0x42 && t !== 0x4a && t !== 0x62) {
      let bits = 0;
      for (let i = p; i < stop; i++) bits |= buf[i];
      if (bits >= 0x80 && !(t === 0x3a || t === 0x52 ? entryStringsUtf8(buf, p, stop) : isUtf8(buf.subarray(p, stop)))) return null;
    } else if (buf[p] === 0x0a && buf[p + 1] < 0x80) {
      let bits = 0;
      for (let i = p + 2, keyEnd = p + 2 + buf[p + 1]; i < keyEnd; i++) bits |= buf[i];
      if (bits >= 0x80) return null;
    } else return null;
    switch (t) {
      case 0x2a:
        groupAt = p;
        groupEnd = stop;
        break;
      case 0x12:
      case 0x1a:
      case 0x22:
      case 0x32:
        break;
      case 0x3a:
        if (!entryAt(buf, p, stop, t, -1)) return null;
        break;
      case 0x42:
      case 0x4a:
      case 0x52:
      case 0x62:
        if (fieldsAt === end) fieldsAt = at;
        if (!entryAt(buf, p, stop, t, entries < MAX_ENTRIES ? entries : -1)) return null;
        entries++;
        p = stop;
        continue;
      case 0x02:
        return null; // field number 0
      default:
        p = stop; // field 1 or 11 with the wrong wire type: skipped, as protobufjs does
        continue;
    }
    p = stop;
    // Fields 2–7, the envelope: note whether they form one run.
    if (envAt < 0) envAt = at;
    else if (envEnd !== at) envSplit = true;
    envEnd = p;
  }
  if (envAt < 0) envAt = envEnd = bodyAt; // no envelope: an empty run
  const point = new FramePoint(
    buf,
    start,
    end,
    bodyAt,
    timeLo,
    timeHi,
    groupAt,
    groupEnd,
    byName,
    envSplit ? -1 : envAt,
    envEnd,
    fieldsAt,
    // The time field right before the envelope (as Kapacitor writes a point: fields in order) is copied with it.
    !envSplit && timeEnd === envAt ? timeAt : -1,
  );
  entryCount = entries;
  if (entries <= MAX_ENTRIES) entriesOf = point;
  return point;
}

/** Whether every length-delimited part (key, string value) of the map entry buf[p, e) is UTF-8; false if corrupt. */
function entryStringsUtf8(buf: Uint8Array, p: number, e: number): boolean {
  while (p < e) {
    const t = buf[p++];
    if (t >= 0x80) return false; // no field of an entry has a tag this long: corrupt, or left to the codec
    if ((t & 7) !== 2) {
      p = skipAt(buf, p, e, t);
      if (p < 0) return false;
      continue;
    }
    const len = varintAt(buf, p, e);
    if (len < 0) return false;
    p = varintEnd;
    if (p + len > e || !isUtf8(buf.subarray(p, p + len))) return false;
    p += len;
  }
  return true;
}

/** Where the varint read last by varintAt ends. */
let varintEnd = 0;

/** A varint of at most 4 bytes (< 2^28) starting at buf[p], or -1; sets varintEnd. */
function varintAt(buf: Uint8Array, p: number, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) return -1;
    const b = buf[p++];
    v |= (b & 0x7f) << shift;
    if (b < 0x80) {
      varintEnd = p;
      return v;
    }
  }
  return -1;
}

/** A 64-bit varint at buf[p] into (lo, hi), bit for bit as readLong reads it; returns where it ends, or -1. */
function longAt(buf: Uint8Array, p: number, end: number): number {
  let l = 0;
  let h = 0;
  let b = 0;
  for (let i = 0; i < 4; i++) {
    if (p >= end) return -1;
    b = buf[p++];
    l |= (b & 0x7f) << (i * 7);
    if (b < 0x80) {
      lo = l >>> 0;
      hi = 0;
      return p;
    }
  }
  if (p >= end) return -1;
  b = buf[p++];
  l = (l | ((b & 0x7f) << 28)) >>> 0;
  h = (b & 0x7f) >> 4;
  for (let i = 0; b >= 0x80; i++) {
    if (i === 5 || p >= end) return -1;
    b = buf[p++];
    // A tenth byte above 1 overflows 64 bits: Kapacitor refuses such a varint, so it is never passed through.
    if (i === 4 && b > 1) return -1;
    h = (h | ((b & 0x7f) << (i * 7 + 3))) >>> 0;
  }
  lo = l;
  hi = h;
  return p;
}

let boolValue = false;

/** A bool varint at buf[p] into boolValue, as readBool reads it; returns where it ends, or -1. */
function boolAt(buf: Uint8Array, p: number, end: number): number {
  let value = false;
  for (let i = 0; i < 10; i++) {
    if (p >= end) return -1;
    const b = buf[p++];
    if (b & 0x7f) value = true;
    if (b < 0x80) {
      boolValue = value;
      return p;
    }
  }
  return -1;
}

/** Skips a field (its tag read) as skipField does; returns where it ends, or -1. */
function skipAt(buf: Uint8Array, p: number, end: number, tag: number): number {
  if (tag >>> 3 === 0) return -1;
  switch (tag & 7) {
    case 0: {
      // At most 10 bytes, the tenth at most 1, as Kapacitor reads a varint.
      const from = p;
      do {
        if (p >= end || p - from === 10) return -1;
      } while (buf[p++] & 0x80);
      return p - from === 10 && buf[p - 1] > 1 ? -1 : p;
    }
    case 1:
      p += 8;
      break;
    case 2: {
      const len = varintAt(buf, p, end);
      if (len < 0) return -1;
      p = varintEnd + len;
      break;
    }
    case 5:
      p += 4;
      break;
    default:
      return -1; // groups and invalid wire types
  }
  return p > end ? -1 : p;
}

/**
 * Checks the map entry buf[p, e) of the map with tag `map` the way readPoint reads one (key, a value of the map's
 * type, anything else skipped); with k >= 0, records it in the entry table at k. False when it is corrupt.
 */
function entryAt(buf: Uint8Array, p: number, e: number, map: number, k: number): boolean {
  const valueTag = map === 0x42 ? 0x11 : map === 0x52 || map === 0x3a ? 0x12 : 0x10;
  // The shape every encoder writes — key, then value, short lengths — checked without the loop.
  const keyLen0 = buf[p + 1];
  if (buf[p] === 0x0a && keyLen0 < 0x80 && buf[p + 2 + keyLen0] === valueTag) {
    const v = p + 3 + keyLen0;
    let last = -1;
    if (valueTag === 0x12) {
      const n = buf[v];
      if (n < 0x80) last = v + 1 + n;
    } else if (valueTag === 0x11) last = v + 8;
    else {
      let q = v; // a varint of at most 10 bytes, as longAt reads it
      while (q < e && q - v < 9 && buf[q] >= 0x80) q++;
      if (buf[q] < (q - v === 9 ? 2 : 0x80)) last = q + 1; // a tenth byte above 1 overflows: the loop below refuses it
    }
    if (last === e) {
      if (k >= 0) {
        entryKind[k] = map;
        entryKeyAt[k] = p + 2;
        entryKeyLen[k] = keyLen0;
        entryValueAt[k] = v;
      }
      return true;
    }
  }
  let keyAt = p;
  let keyLen = 0;
  let valueAt = -2;
  while (p < e) {
    let t = buf[p++];
    if (t >= 0x80) {
      t = varintAt(buf, p - 1, e);
      if (t < 0) return false;
      p = varintEnd;
    }
    if (t === 0x0a || t === 0x12) {
      // The key, or a string value: length-delimited. (0x12 in a map of another type is skipped, the same way.)
      const at = p;
      if (p >= e) return false;
      let len = buf[p++];
      if (len >= 0x80) {
        len = varintAt(buf, p - 1, e);
        if (len < 0) return false;
        p = varintEnd;
      }
      if (t === 0x0a) {
        keyAt = p;
        keyLen = len;
      } else if (valueTag === 0x12) valueAt = at;
      p += len;
      if (p > e) return false;
    } else if (t === valueTag) {
      valueAt = p;
      p = t === 0x11 ? p + 8 : longAt(buf, p, e); // ints and bools: a varint of at most 10 bytes
      if (p < 0 || p > e) return false;
    } else {
      p = skipAt(buf, p, e, t);
      if (p < 0) return false;
    }
  }
  if (k >= 0) {
    entryKind[k] = map;
    entryKeyAt[k] = keyAt;
    entryKeyLen[k] = keyLen;
    entryValueAt[k] = valueAt;
  }
  return true;
}

/** Slabs start small (a connection that only answers keepalives keeps little) and double up to this size. */
const MAX_SLAB = 256 * 1024;

/** The output slab of a ResponseWriter, with the primitives of the Point encoder. */
export class ByteSink {
  buf: Buffer = Buffer.allocUnsafe(1024);
  /** First byte not yet taken. */
  start = 0;
  pos = 0;

  /**
   * Received frames echoed and not yet copied: from[pendAt, pendEnd). Consecutive frames of one chunk (edgeDetect
   * passing points through) are copied as one run, at the next write or take, instead of one copy per point.
   */
  private pendFrom: Uint8Array | null = null;
  private pendAt = 0;
  private pendEnd = 0;
  /** The last array range() copied from, with its buffer and offset (reading those is not free on a Buffer). */
  private rangeFrom: Uint8Array = EMPTY;
  private rangeBuffer: ArrayBufferLike = EMPTY.buffer;
  private rangeOffset = 0;

  /** Room for n more bytes: a full slab is left to the views already taken, the untaken bytes move to a new one. */
  ensure(n: number): void {
    if (this.pendFrom !== null) this.settle();
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(Math.min(2 * this.buf.length, MAX_SLAB), 2 * (pending + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  take(): Uint8Array {
    this.settle();
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes from[start, end). */
  range(from: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (from !== this.rangeFrom) {
      this.rangeFrom = from;
      this.rangeBuffer = from.buffer;
      this.rangeOffset = from.byteOffset;
    }
    // A plain Uint8Array view and a native copy: cheaper than a byte loop from a dozen bytes on, and than
    // Buffer#subarray (whose Buffer subclass is slow to construct).
    this.buf.set(new Uint8Array(this.rangeBuffer, this.rangeOffset + start, n), this.pos);
    this.pos += n;
  }

  /**
   * The received frame buf[at, end) as a Response (a Point Request and a Point Response are the same bytes), with
   * its length prefix. When the prefix in front of it in buf is the one we would write, it is taken along, so that
   * the frames of a chunk passed through one after another form one run, copied once.
   */
  echoFrame(buf: Uint8Array, at: number, end: number): void {
    const n = end - at;
    let from = at;
    if (n < 0x80 ? at >= 1 && buf[at - 1] === n : n < 0x4000 && at >= 2 && buf[at - 2] === ((n & 0x7f) | 0x80) && buf[at - 1] === n >>> 7) {
      from = at - (n < 0x80 ? 1 : 2);
    } else {
      this.ensure(5); // copies what is pending first: the order of the output is kept
      this.varint32(n);
    }
    if (buf === this.pendFrom && from === this.pendEnd) {
      this.pendEnd = end;
      return;
    }
    this.settle();
    this.pendFrom = buf;
    this.pendAt = from;
    this.pendEnd = end;
  }

  /** Copies the pending echoed frames into the slab. */
  settle(): void {
    const from = this.pendFrom;
    if (from === null) return;
    this.pendFrom = null;
    this.range(from, this.pendAt, this.pendEnd);
  }

  /** An unsigned varint < 2^32 (room already ensured). */
  varint32(v: number): void {
    this.varint64(v, 0);
  }

  /** A 64-bit varint from its halves, as protobufjs writes it (room already ensured). */
  varint64(l: number, h: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (h) {
      buf[p++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    while (l > 0x7f) {
      buf[p++] = (l & 0x7f) | 0x80;
      l >>>= 7;
    }
    buf[p++] = l;
    this.pos = p;
  }

  /** tag, then an int64 varint. */
  int64(tag: number, v: bigint): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    int64Value[0] = v;
    this.varint64(int64Halves[LO], int64Halves[HI]);
  }

  /** tag, then a length-delimited UTF-8 string. */
  string(tag: number, s: string): void {
    const n = s.length;
    if (n <= MAX_CACHED_STRING) {
      // Short strings are mostly the same few (names, keys, group ids): their bytes are looked up, not re-encoded.
      // A stream function emits while its input is being handled, mostly with the input's strings in the input's
      // order: the decoder's string at the same position (bytes at hand, no lookup) comes first, then the string
      // written at this position last time, then the Map.
      const k = encodeIndex++;
      if (k < POSITIONS && positionString[k] === s) {
        this.cachedBytes(tag, positionArena, k * MAX_CACHED_STRING, positionLength[k]);
        return;
      }
      let bytes: Uint8Array | undefined;
      if (k < POSITIONS && encodedAtString[k] === s) bytes = encodedAtBytes[k];
      else {
        bytes = utf8Of(s);
        if (k < POSITIONS) {
          encodedAtString[k] = s;
          encodedAtBytes[k] = bytes;
        }
      }
      this.cachedBytes(tag, bytes, 0, bytes.length);
      return;
    }
    this.ensure(6 + 3 * n);
    this.buf[this.pos++] = tag;
    const len = Buffer.byteLength(s, 'utf8');
    this.varint32(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** tag, then the length and the `len` UTF-8 bytes of a string found at `from[at]`. */
  private cachedBytes(tag: number, from: Uint8Array, at: number, len: number): void {
    this.ensure(6 + len);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = tag;
    if (len < 0x80) buf[p++] = len;
    else {
      this.pos = p;
      this.varint32(len);
      p = this.pos;
    }
    for (let i = 0; i < len; i++) buf[p + i] = from[at + i];
    this.pos = p + len;
  }

  double(tag: number, v: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = tag;
    f64[0] = v;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) buf[p + i] = f64Bytes[i];
    else for (let i = 0; i < 8; i++) buf[p + i] = f64Bytes[7 - i];
    this.pos = p + 8;
  }

  /** A few bytes (room already ensured): a loop, cheaper than a native copy for a dozen bytes or so. */
  short(b: Uint8Array): void {
    const buf = this.buf;
    const p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p + i] = b[i];
    this.pos = p + b.length;
  }

  /** A double's 8 bytes, little-endian (room already ensured). */
  float64(v: number): void {
    f64[0] = v;
    const buf = this.buf;
    const p = this.pos;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) buf[p + i] = f64Bytes[i];
    else for (let i = 0; i < 8; i++) buf[p + i] = f64Bytes[7 - i];
    this.pos = p + 8;
  }

  /** One byte (room already ensured). */
  byte(v: number): void {
    this.buf[this.pos++] = v;
  }

  byte2(a: number, b: number): void {
    this.ensure(2);
    this.buf[this.pos++] = a;
    this.buf[this.pos++] = b;
  }

  /**
   * Starts a length-delimited field whose length is not known yet: reserves `guess` bytes for its varint and returns
   * where the body starts, relative to the untaken bytes (a slab change moves them, never their offsets from start).
   * close() writes the length and moves the body if the guess was wrong.
   */
  open(guess: number): number {
    this.ensure(guess);
    this.pos += guess;
    return this.pos - this.start;
  }

  /** A map entry (tag, then a length-delimited body): one length byte reserved, enough for most entries. */
  entry(tag: number): number {
    this.ensure(2);
    this.buf[this.pos++] = tag;
    return this.open(1);
  }

  close(bodyAt: number, guess: number): void {
    const len = this.pos - this.start - bodyAt;
    const size = varintSize(len);
    if (size !== guess) {
      this.ensure(size - guess);
      const body = this.start + bodyAt;
      this.buf.copyWithin(body - guess + size, body, this.pos);
      this.pos += size - guess;
    }
    const end = this.pos;
    this.pos = this.start + bodyAt - guess;
    this.varint32(len);
    this.pos = end;
  }
}

/** UTF-8 of recently written short strings; cleared when full rather than kept in LRU order (a hit is a Map lookup). */
const encodedStrings = new Map<string, Uint8Array>();
const MAX_ENCODED_STRINGS = 50_000;
const encodedAtString: string[] = new Array<string>(POSITIONS).fill('');
const encodedAtBytes: Uint8Array[] = new Array<Uint8Array>(POSITIONS).fill(new Uint8Array(0));
let encodeIndex = 0;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Guesses for the length varints of the next frame and point: the size of the previous ones. */
let frameGuess = 2;
let pointGuess = 2;

export function encodePointResponse(out: ByteSink, p: Point): void {
  if (p instanceof FramePoint) {
    // Emitted as it came: its frame is the Response.
    out.echoFrame(p.buf, p.frameAt, p.frameEnd);
    return;
  }
  const source = p instanceof DerivedPoint && p.source.envAt >= 0 ? p.source : null;
  if (source !== null && (p as DerivedPoint).onlyDouble !== null) {
    encodeOneDouble(out, p as DerivedPoint, source);
    return;
  }
  encodeIndex = 0;
  const fg = frameGuess;
  const pg = pointGuess;
  const frameAt = out.open(fg);
  out.byte2(TAG_POINT_0, TAG_POINT_1);
  const pointAt = out.open(pg);
  if (p.time !== 0n) out.int64(0x08, p.time);
  if (source !== null) out.range(source.buf, source.envAt, source.envEnd);
  else {
    if (p.name !== '') out.string(0x12, p.name);
    if (p.database !== '') out.string(0x1a, p.database);
    if (p.retentionPolicy !== '') out.string(0x22, p.retentionPolicy);
    if (p.group !== '') out.string(0x2a, p.group);
    for (const d of p.dimensions) out.string(0x32, d);
    const tags = p.tags;
    for (const k of Object.keys(tags)) {
      const e = out.entry(0x3a);
      out.string(0x0a, k);
      out.string(0x12, tags[k]);
      out.close(e, 1);
    }
  }
  const { fieldsDouble, fieldsInt, fieldsString, fieldsBool } = p;
  for (const k of Object.keys(fieldsDouble)) {
    const e = out.entry(0x42);
    out.string(0x0a, k);
    out.double(0x11, fieldsDouble[k]);
    out.close(e, 1);
  }
  for (const k of Object.keys(fieldsInt)) {
    const e = out.entry(0x4a);
    out.string(0x0a, k);
    out.int64(0x10, fieldsInt[k]);
    out.close(e, 1);
  }
  for (const k of Object.keys(fieldsString)) {
    const e = out.entry(0x52);
    out.string(0x0a, k);
    out.string(0x12, fieldsString[k]);
    out.close(e, 1);
  }
  if (p.byName) out.byte2(0x58, 1);
  for (const k of Object.keys(fieldsBool)) {
    const e = out.entry(0x62);
    out.string(0x0a, k);
    out.byte2(0x10, fieldsBool[k] ? 1 : 0);
    out.close(e, 1);
  }
  const pointLen = out.pos - out.start - pointAt;
  out.close(pointAt, pg);
  pointGuess = varintSize(pointLen);
  const frameLen = out.pos - out.start - frameAt;
  out.close(frameAt, fg);
  frameGuess = varintSize(frameLen);
}

/**
 * What pointLikeDouble makes of a view — the output of an average or a rate: its size is known up front, so it is
 * written straight through, the envelope copied from the source frame.
 */
function encodeOneDouble(out: ByteSink, p: DerivedPoint, source: FramePoint): void {
  const head = entryHeadOf(p.onlyDouble as string);
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
      int64Value[0] = own;
      tlo = int64Halves[LO];
      thi = int64Halves[HI];
    }
    timeLen = tlo === 0 && thi === 0 ? 0 : 1 + varint64Size(tlo, thi);
  }
  const pointLen = timeLen + (source.envEnd - runAt) + head.length + 8 + (source.byName ? 2 : 0);
  const frameLen = 2 + varintSize(pointLen) + pointLen;
  out.ensure(5 + frameLen);
  out.varint32(frameLen);
  out.byte2(TAG_POINT_0, TAG_POINT_1);
  out.varint32(pointLen);
  if (timeLen !== 0) {
    out.byte(0x08);
    out.varint64(tlo, thi);
  }
  out.range(source.buf, runAt, source.envEnd);
  out.short(head);
  out.float64(p.onlyValue);
  if (source.byName) out.byte2(0x58, 1);
}

const entryHeads = new Map<string, Uint8Array>();
let recentHeadName = '';
let recentHead: Uint8Array = EMPTY;

/**
 * A fieldsDouble entry for `name`, all but its 8 value bytes: tag, entry length, key tag, key length, key, value tag.
 * The same for every point a function emits, so made once per name.
 */
function entryHeadOf(name: string): Uint8Array {
  if (name === recentHeadName) return recentHead;
  let head = entryHeads.get(name);
  if (head === undefined) {
    const key = Buffer.from(name, 'utf8');
    const entryLen = 1 + varintSize(key.length) + key.length + 9;
    head = new Uint8Array([0x42, ...varintBytes(entryLen), 0x0a, ...varintBytes(key.length), ...key, 0x11]);
    if (entryHeads.size >= MAX_ENCODED_STRINGS) entryHeads.clear();
    entryHeads.set(name, head);
  }
  recentHeadName = name;
  recentHead = head;
  return head;
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

// The two names used last: a function typically reads one field and writes another, alternately, point after point.
let recentString0 = '';
let recentBytes0: Uint8Array = EMPTY;
let recentString1 = '';
let recentBytes1: Uint8Array = EMPTY;

/** The UTF-8 bytes of a field name (usually one of the two used last). */
function utf8Of(s: string): Uint8Array {
  if (s === recentString0) return recentBytes0;
  if (s === recentString1) return recentBytes1;
  let bytes = encodedStrings.get(s);
  if (bytes === undefined) {
    bytes = Buffer.from(s, 'utf8');
    if (encodedStrings.size >= MAX_ENCODED_STRINGS) encodedStrings.clear();
    encodedStrings.set(s, bytes);
  }
  recentString1 = recentString0;
  recentBytes1 = recentBytes0;
  recentString0 = s;
  recentBytes0 = bytes;
  return bytes;
}
