/**
 * The codec's hot path. codec.ts falls back on protobufjs for every other message, and for any frame this file declines.
 *
 * Decoding: a Request that is exactly one Point (tag 17, length, body — what Kapacitor sends for every point) is read
 * straight into a Point. The reader mirrors protobufjs's generated decoder field by field: last value wins for
 * scalars, map entries with absent key or value get the zero value, a field with an unexpected wire type or an
 * unknown number is skipped, "__proto__" keys become own properties, strings are strict UTF-8 (protobufjs's own
 * reader). Anything it does not handle — a group, a varint longer than it allows, a truncated or corrupt body, invalid
 * UTF-8 — makes it give up, and the frame is decoded again by protobufjs, which then returns the same value or throws
 * its own error. So the fast path changes speed, never results.
 *
 * int64 is read as two 32-bit halves and becomes a bigint once; the BigInt of the high half is cached, since
 * consecutive times usually share it. Short ASCII strings come from caches (see readString), not fresh decoding.
 *
 * Encoding: the same bytes protobufjs writes for a Point Response (field order, defaults skipped, map entries with
 * both key and value), written straight into the output slab.
 */
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
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([-0]).buffer)[7] === 0x80;
const utf8 = protobuf.util.utf8;
// Node's Buffer method, undeclared in @types/node; it accepts any Uint8Array.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string })
  .latin1Slice;

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

let cachedHi = 0;
let cachedHiBig = 0n;

/**
 * The time of the point decoded last, with its halves. A stream function emits while its input point is being
 * handled, usually with that point's time, so the encoder finds the halves here instead of splitting the bigint.
 */
let lastTime = 0n;
let lastTimeLo = 0;
let lastTimeHi = 0;

/** (lo, hi) as a signed int64 bigint, without passing through a number when it exceeds 2^53. */
function longValue(): bigint {
  if (hi === 0) return BigInt(lo);
  if (hi !== cachedHi) {
    cachedHi = hi;
    cachedHiBig = BigInt(hi | 0) << 32n;
  }
  return cachedHiBig + BigInt(lo);
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
  if (len === 0) return '';
  const buf = rb;
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
        lastTime = time;
        lastTimeLo = lo;
        lastTimeHi = hi;
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

/** The Point of a Request that is exactly one Point, or null when protobufjs must decode the frame. */
/**
 * The last point decoded and its frame. A Request holding one Point and a Response holding one Point are the same
 * bytes (both use field 17), so when a function emits the very object it was given — edgeDetect passing a state change
 * through — the frame is sent back as it came instead of being encoded again. Points are never modified in place (see
 * handler.ts), which is what makes the object identity a safe test.
 */
let echoPoint: Point | null = null;
let echoFrame: Uint8Array = EMPTY;

export function decodePointRequest(frame: Uint8Array): Point | null {
  // A frame is valid only while its request is handled (FrameDecoder's contract): forget the previous one first.
  echoPoint = null;
  echoFrame = EMPTY;
  if (frame.length < 3 || frame[0] !== TAG_POINT_0 || frame[1] !== TAG_POINT_1) return null;
  rb = frame;
  rp = 2;
  try {
    const len = readVarint32(frame.length);
    if (rp + len !== frame.length) return null;
    const point = readPoint(frame.length);
    echoPoint = point;
    echoFrame = frame;
    return point;
  } catch {
    return null;
  } finally {
    rb = EMPTY;
  }
}

/** Slabs start small (a connection that only answers keepalives keeps little) and double up to this size. */
const MAX_SLAB = 256 * 1024;

/** The output slab of a ResponseWriter, with the primitives of the Point encoder. */
export class ByteSink {
  buf: Buffer = Buffer.allocUnsafe(1024);
  /** First byte not yet taken. */
  start = 0;
  pos = 0;

  /** Room for n more bytes: a full slab is left to the views already taken, the untaken bytes move to a new one. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(Math.min(2 * this.buf.length, MAX_SLAB), 2 * (pending + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  take(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** An unsigned varint < 2^32 (room already ensured). */
  varint32(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
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
    if (v >= 0n && v <= 0xffffffffn) {
      this.varint32(Number(v));
      return;
    }
    if (v === lastTime) {
      this.varint64(lastTimeLo, lastTimeHi);
      return;
    }
    // Times share their high half with the point before; the cached BigInt of it spares the split.
    const d = v - encHiBig;
    if (d >= 0n && d <= 0xffffffffn) {
      this.varint64(Number(d), encHi);
      return;
    }
    encHi = Number(BigInt.asUintN(32, v >> 32n));
    encHiBig = BigInt.asIntN(64, BigInt(encHi) << 32n);
    this.varint64(Number(BigInt.asUintN(32, v)), encHi);
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
        bytes = encodedStrings.get(s);
        if (bytes === undefined) {
          bytes = Buffer.from(s, 'utf8');
          if (encodedStrings.size >= MAX_ENCODED_STRINGS) encodedStrings.clear();
          encodedStrings.set(s, bytes);
        }
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

let encHi = 0;
let encHiBig = 0n;

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
  if (p === echoPoint) {
    out.ensure(5);
    out.varint32(echoFrame.length);
    out.bytes(echoFrame);
    return;
  }
  encodeIndex = 0;
  const fg = frameGuess;
  const pg = pointGuess;
  const frameAt = out.open(fg);
  out.byte2(TAG_POINT_0, TAG_POINT_1);
  const pointAt = out.open(pg);
  if (p.time !== 0n) out.int64(0x08, p.time);
  if (p.name !== '') out.string(0x12, p.name);
  if (p.database !== '') out.string(0x1a, p.database);
  if (p.retentionPolicy !== '') out.string(0x22, p.retentionPolicy);
  if (p.group !== '') out.string(0x2a, p.group);
  for (const d of p.dimensions) out.string(0x32, d);
  const { tags, fieldsDouble, fieldsInt, fieldsString, fieldsBool } = p;
  for (const k of Object.keys(tags)) {
    const e = out.entry(0x3a);
    out.string(0x0a, k);
    out.string(0x12, tags[k]);
    out.close(e, 1);
  }
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
