/**
 * The strings of one connection, both ways:
 *
 *   at(bytes)  := string      strict UTF-8; short ASCII strings come from the caches below, not fresh decoding
 *   utf8(name) := bytes       a name's UTF-8, for field lookups and the encoder
 *
 * The same names, tag keys and values, field keys and group ids arrive point after point. Returning the string decoded
 * last time spares an allocation, and, because it is the same string, the map lookups and property stores downstream
 * find its hash already computed. Two caches, tried in order:
 *
 * - by position: the string read at the same position of the previous point (points of a series repeat name,
 *   database, dimensions and keys in the same order), so most strings are found with one comparison and no hashing;
 * - by a hash of the bytes, in slots that keep a copy of their bytes, so a hit is a byte comparison. Its arena is
 *   allocated once a few hundred strings have been read: a connection that only answers keepalives keeps none.
 *
 * The encoder reads the position cache too: a function that emits while a point is handled mostly writes that point's
 * strings in that point's order, and finds their bytes here with no lookup.
 */
import protobuf from 'protobufjs';

export const MAX_CACHED_STRING = 64;
/** Positions of a point remembered by the position cache. */
export const POSITIONS = 32;
const HASH_BITS = 12;
const HASH_SLOTS = 1 << HASH_BITS;
const UNCACHED = 256;
/** Names whose UTF-8 is kept; cleared when full rather than kept in LRU order (a hit is a Map lookup). */
const MAX_ENCODED_NAMES = 50_000;

const utf8 = protobuf.util.utf8;
// Node's Buffer method, undeclared in @types/node; it accepts any Uint8Array.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
const EMPTY = new Uint8Array(0);

export class StringTable {
  /** The position cache: the string at each position of the point read last, its length and bytes. */
  readonly positionString: string[] = new Array<string>(POSITIONS).fill('');
  readonly positionLength = new Uint8Array(POSITIONS);
  readonly positionArena = new Uint8Array(POSITIONS * MAX_CACHED_STRING);
  /** The position of the next string read; the decoder resets it at each point. */
  index = 0;
  private hashString: string[] | null = null;
  private hashArena: Uint8Array = EMPTY;
  /** Strings decoded before the hash cache is made: a decoder that reads a few points (a tool, a test) makes none. */
  private uncached = 0;
  private readonly names = new Map<string, Uint8Array>();
  // The two names used last: a function typically reads one field and writes another, alternately, point after point.
  private recent0 = '';
  private recentBytes0: Uint8Array = EMPTY;
  private recent1 = '';
  private recentBytes1: Uint8Array = EMPTY;

  /** The string in buf[start, stop); strict UTF-8 (a TypeError otherwise). */
  at(buf: Uint8Array, start: number, stop: number): string {
    const len = stop - start;
    if (len === 0) return '';
    if (len > MAX_CACHED_STRING) return utf8.readStrict(buf, start, stop);
    const k = this.index++;
    if (k < POSITIONS && this.positionLength[k] === len) {
      const arena = this.positionArena;
      const at = k * MAX_CACHED_STRING;
      let i = 0;
      while (i < len && arena[at + i] === buf[start + i]) i++;
      if (i === len) return this.positionString[k];
    }
    const s = this.hashed(buf, start, stop);
    if (k < POSITIONS && s !== null) {
      this.positionString[k] = s;
      this.positionLength[k] = len;
      const arena = this.positionArena;
      const at = k * MAX_CACHED_STRING;
      for (let i = 0; i < len; i++) arena[at + i] = buf[start + i];
    }
    return s ?? utf8.readStrict(buf, start, stop);
  }

  /** A short ASCII string from the hash cache, or null when it is not ASCII. */
  private hashed(buf: Uint8Array, start: number, stop: number): string | null {
    const len = stop - start;
    let h = 0x811c9dc5 ^ len;
    let bits = 0;
    for (let i = start; i < stop; i++) {
      const b = buf[i];
      bits |= b;
      h = Math.imul(h ^ b, 0x01000193);
    }
    if (bits & 0x80) return null;
    let strings = this.hashString;
    if (strings === null) {
      if (++this.uncached < UNCACHED) return latin1Slice.call(buf, start, stop);
      strings = this.hashString = new Array<string>(HASH_SLOTS).fill('');
      this.hashArena = new Uint8Array(MAX_CACHED_STRING * HASH_SLOTS);
    }
    const arena = this.hashArena;
    const slot = (h ^ (h >>> HASH_BITS)) & (HASH_SLOTS - 1);
    const cached = strings[slot];
    const at = slot * MAX_CACHED_STRING;
    if (cached.length === len) {
      let i = 0;
      while (i < len && arena[at + i] === buf[start + i]) i++;
      if (i === len) return cached;
    }
    // ASCII, so Latin-1 decoding is UTF-8 decoding, and Node's gives a flat one-byte string in one native call.
    const s = latin1Slice.call(buf, start, stop);
    for (let i = 0; i < len; i++) arena[at + i] = buf[start + i];
    strings[slot] = s;
    return s;
  }

  /** The UTF-8 bytes of a name (usually one of the two used last). */
  utf8(s: string): Uint8Array {
    if (s === this.recent0) return this.recentBytes0;
    if (s === this.recent1) return this.recentBytes1;
    let bytes = this.names.get(s);
    if (bytes === undefined) {
      bytes = Buffer.from(s, 'utf8');
      if (this.names.size >= MAX_ENCODED_NAMES) this.names.clear();
      this.names.set(s, bytes);
    }
    this.recent1 = this.recent0;
    this.recentBytes1 = this.recentBytes0;
    this.recent0 = s;
    this.recentBytes0 = bytes;
    return bytes;
  }
}
