/**
 * The one reader of protobuf's wire primitives, with an explicit cursor (buf, pos) and the halves of the last int64:
 *
 *   varint32 := 1 to 4 bytes, 7 bits each, least significant first (< 2^28: tags and lengths)
 *   int64    := 1 to 10 bytes likewise, the tenth at most 1 (64 bits; Kapacitor refuses more)
 *   bool     := a varint of at most 10 bytes, true when any bit is set
 *   double   := 8 bytes, little-endian
 *   string   := varint32 length, then that many bytes of UTF-8
 *   skipped  := a field of wire type 0, 1, 2 or 5 (groups are refused)
 *
 * Every read is bounded by an `end` given by the caller. Input it does not accept — a truncated field, a varint
 * longer than these, a group, invalid UTF-8 — makes it throw: GIVE_UP for the primitives, a TypeError for UTF-8. The
 * point decoders catch both and leave the frame to protobufjs, which then returns the same value or throws its own
 * error (so the hand-written path changes speed, never results).
 */
import { LITTLE_ENDIAN, Scratch } from './scratch.js';
import type { StringTable } from './strings.js';

/** Thrown by the reader when it declines a frame; caught inside wire/, never seen outside. */
export const GIVE_UP: Error = Object.freeze(new Error('point fast path declined'));

const EMPTY = new Uint8Array(0);

export class Reader {
  /** The frame being read (released after each, so a socket chunk is not kept alive) and the position in it. */
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** The halves of the int64 read last, both unsigned. */
  lo = 0;
  hi = 0;
  readonly scratch = new Scratch();

  constructor(readonly strings: StringTable) {}

  /** Starts reading buf at pos. */
  at(buf: Uint8Array, pos: number): void {
    this.buf = buf;
    this.pos = pos;
  }

  release(): void {
    this.buf = EMPTY;
  }

  varint32(end: number): number {
    const buf = this.buf;
    let p = this.pos;
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw GIVE_UP;
      const b = buf[p++];
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        return v;
      }
    }
    throw GIVE_UP;
  }

  /** An int64 varint into (lo, hi). */
  int64(end: number): void {
    const buf = this.buf;
    let p = this.pos;
    let l = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      if (p >= end) throw GIVE_UP;
      b = buf[p++];
      l |= (b & 0x7f) << (i * 7);
      if (b < 0x80) {
        this.lo = l >>> 0;
        this.hi = 0;
        this.pos = p;
        return;
      }
    }
    if (p >= end) throw GIVE_UP;
    b = buf[p++];
    l = (l | ((b & 0x7f) << 28)) >>> 0;
    let h = (b & 0x7f) >> 4;
    for (let i = 0; b >= 0x80; i++) {
      if (i === 5 || p >= end) throw GIVE_UP;
      b = buf[p++];
      // A tenth byte above 1 overflows 64 bits: Kapacitor refuses such a varint, so it is never passed through.
      if (i === 4 && b > 1) throw GIVE_UP;
      h = (h | ((b & 0x7f) << (i * 7 + 3))) >>> 0;
    }
    this.lo = l;
    this.hi = h;
    this.pos = p;
  }

  /** (lo, hi) as a signed int64. */
  bigint(): bigint {
    return this.scratch.bigint(this.lo, this.hi);
  }

  bool(end: number): boolean {
    const buf = this.buf;
    let p = this.pos;
    let value = false;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw GIVE_UP;
      const b = buf[p++];
      if (b & 0x7f) value = true;
      if (b < 0x80) {
        this.pos = p;
        return value;
      }
    }
    throw GIVE_UP;
  }

  double(end: number): number {
    const p = this.pos;
    if (p + 8 > end) throw GIVE_UP;
    const buf = this.buf;
    const { f64, f64Bytes } = this.scratch;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) f64Bytes[i] = buf[p + i];
    else for (let i = 0; i < 8; i++) f64Bytes[7 - i] = buf[p + i];
    this.pos = p + 8;
    return f64[0];
  }

  string(end: number): string {
    const len = this.varint32(end);
    const start = this.pos;
    const stop = start + len;
    if (stop > end) throw GIVE_UP;
    this.pos = stop;
    return this.strings.at(this.buf, start, stop);
  }

  /** Skips a field whose tag was read: an unknown one, or a known one with an unexpected wire type. */
  skip(tag: number, end: number): void {
    if (tag >>> 3 === 0) throw GIVE_UP;
    const buf = this.buf;
    let p = this.pos;
    switch (tag & 7) {
      case 0: {
        // At most 10 bytes, the tenth at most 1, as Kapacitor reads a varint.
        const from = p;
        do {
          if (p >= end || p - from === 10) throw GIVE_UP;
        } while (buf[p++] & 0x80);
        if (p - from === 10 && buf[p - 1] > 1) throw GIVE_UP;
        this.pos = p;
        return;
      }
      case 1:
        p += 8;
        break;
      case 2:
        p = this.varint32(end);
        p += this.pos;
        break;
      case 5:
        p += 4;
        break;
      default:
        throw GIVE_UP; // groups and invalid wire types
    }
    if (p > end) throw GIVE_UP;
    this.pos = p;
  }
}
