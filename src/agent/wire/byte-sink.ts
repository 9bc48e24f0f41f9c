/**
 * The output slab of a ResponseWriter, with the primitives of the Point encoder:
 *
 *   varint  := 7 bits a byte, least significant first, as protobufjs writes it (from an int64's halves)
 *   field   := tag | value                        (int64: varint; double: 8 bytes little-endian)
 *   delimit := tag | length varint | body         (open() reserves the length, close() writes it)
 *   frame   := length varint | Response           (echoFrame: a received point frame, its prefix taken along)
 *
 * Bytes are written into a slab shared by successive takes: take() hands out a view of what was written since the
 * last take (no copy; the socket may hold it as long as it likes) and later writes continue after it. A full slab is
 * left to the views that still use it and a new one is started.
 */
import { HI, LO, Scratch } from './scratch.js';

const EMPTY = new Uint8Array(0);

/** Slabs start small (a connection that only answers keepalives keeps little) and double up to this size. */
const MAX_SLAB = 256 * 1024;

export class ByteSink {
  buf: Buffer = Buffer.allocUnsafe(1024);
  /** Over buf, for doubles: one store, where bytes through a scratch array cost a load and a store each. */
  private view = viewOf(this.buf);
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
  private readonly scratch = new Scratch();

  /** Room for n more bytes: a full slab is left to the views already taken, the untaken bytes move to a new one. */
  ensure(n: number): void {
    if (this.pendFrom !== null) this.settle();
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(Math.min(2 * this.buf.length, MAX_SLAB), 2 * (pending + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.view = viewOf(next);
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
    const s = this.scratch;
    s.int64[0] = v;
    this.varint64(s.halves[LO], s.halves[HI]);
  }

  /** tag, then a length-delimited string, encoded here (the encoder looks short ones up first). */
  utf8String(tag: number, s: string): void {
    const n = s.length;
    this.ensure(6 + 3 * n);
    this.buf[this.pos++] = tag;
    const len = Buffer.byteLength(s, 'utf8');
    this.varint32(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** tag, then the length and the `len` UTF-8 bytes of a string found at `from[at]`. */
  lengthDelimited(tag: number, from: Uint8Array, at: number, len: number): void {
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
    this.buf[this.pos++] = tag;
    this.float64(v);
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
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
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

const viewOf = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}
