import Long from 'long';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { GIVE_UP, Reader } from './reader.js';
import { StringTable } from './strings.js';

const reader = (bytes: Uint8Array, at = 0) => {
  const r = new Reader(new StringTable());
  r.at(bytes, at);
  return r;
};
const writer = () => protobuf.Writer.create();
const long = (v: bigint) => Long.fromString(v.toString(), false);

const INT64S = [0n, 1n, 127n, 128n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, -1n, -(2n ** 63n), -(2n ** 31n)];

describe('Reader', () => {
  it('reads varints of up to 4 bytes and declines longer ones', () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 14 - 1, 2 ** 14, 2 ** 21, 2 ** 28 - 1]) {
      const b = writer().uint32(v).uint32(5).finish();
      const r = reader(b);
      expect(r.varint32(b.length)).toBe(v);
      expect(r.varint32(b.length)).toBe(5);
      expect(r.pos).toBe(b.length);
    }
    const five = writer()
      .uint32(2 ** 28)
      .finish();
    expect(() => reader(five).varint32(five.length)).toThrow(GIVE_UP);
    // Overlong but within 4 bytes (a non-minimal 0): read as protobufjs reads it.
    expect(reader(new Uint8Array([0x80, 0x80, 0x00])).varint32(3)).toBe(0);
  });

  it('reads int64 varints bit for bit as protobufjs, exact beyond 2^53, and declines more than 64 bits', () => {
    for (const v of INT64S) {
      const b = writer().int64(long(v)).finish();
      const r = reader(b);
      r.int64(b.length);
      expect(r.bigint()).toBe(v);
      expect(r.pos).toBe(b.length);
    }
    // Ten bytes with a tenth above 1 overflow 64 bits; an eleventh byte is never valid.
    const ten = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]);
    expect(() => reader(ten).int64(ten.length)).toThrow(GIVE_UP);
    const eleven = new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    expect(() => reader(eleven).int64(eleven.length)).toThrow(GIVE_UP);
    const r = reader(new Uint8Array([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]));
    r.int64(10);
    expect(r.bigint()).toBe(1n); // overlong but within 64 bits
  });

  it('reads bools, doubles and strings as protobufjs writes them', () => {
    const b = writer()
      .bool(true)
      .bool(false)
      .uint64(long(2n ** 40n))
      .double(-0.5)
      .double(Number.NaN)
      .string('héllo')
      .string('')
      .string('x'.repeat(100))
      .finish();
    const r = reader(b);
    expect(r.bool(b.length)).toBe(true);
    expect(r.bool(b.length)).toBe(false);
    expect(r.bool(b.length)).toBe(true); // any bit set
    expect(r.double(b.length)).toBe(-0.5);
    expect(r.double(b.length)).toBeNaN();
    expect(r.string(b.length)).toBe('héllo');
    expect(r.string(b.length)).toBe('');
    expect(r.string(b.length)).toBe('x'.repeat(100));
    expect(r.pos).toBe(b.length);
    expect(() => reader(new Uint8Array([2, 0xc3, 0x28])).string(3)).toThrow(TypeError); // invalid UTF-8
  });

  it('skips fields of wire types 0, 1, 2 and 5, and declines groups and field number 0', () => {
    const b = writer()
      .uint32((1 << 3) | 0)
      .uint64(long(2n ** 64n - 1n))
      .uint32((2 << 3) | 1)
      .fixed64(long(7n))
      .uint32((3 << 3) | 2)
      .bytes(new Uint8Array(300))
      .uint32((4 << 3) | 5)
      .fixed32(9)
      .finish();
    const r = reader(b);
    for (let i = 0; i < 4; i++) r.skip(r.varint32(b.length), b.length);
    expect(r.pos).toBe(b.length);
    for (const tag of [(5 << 3) | 3, (5 << 3) | 4, (5 << 3) | 6, 0 | 2]) expect(() => reader(new Uint8Array([0])).skip(tag, 1)).toThrow(GIVE_UP);
  });

  it('reads what lies before an end set at every point, and declines the primitive the end cuts', () => {
    // One of each primitive back to back; an end at every byte boundary: each primitive that fits is read as a whole
    // and the one it cuts throws, never reading past the end.
    const parts: Uint8Array[] = [
      writer().uint32(300).finish(),
      writer()
        .int64(long(-(2n ** 62n)))
        .finish(),
      writer().bool(true).finish(),
      writer().double(1.25).finish(),
      writer().string('ünïcode').finish(),
      writer()
        .uint32((9 << 3) | 2)
        .bytes(new Uint8Array([1, 2, 3]))
        .finish(),
    ];
    const all = Buffer.concat(parts);
    const ends = parts.map((_, i) => parts.slice(0, i + 1).reduce((n, p) => n + p.length, 0));
    const readOne = (r: Reader, i: number, end: number): unknown => {
      switch (i) {
        case 0:
          return r.varint32(end);
        case 1:
          r.int64(end);
          return r.bigint();
        case 2:
          return r.bool(end);
        case 3:
          return r.double(end);
        case 4:
          return r.string(end);
        default:
          r.skip(r.varint32(end), end);
          return 'skipped';
      }
    };
    const expected = [300, -(2n ** 62n), true, 1.25, 'ünïcode', 'skipped'];
    for (let end = 0; end <= all.length; end++) {
      // The buffer goes on past the end: the bytes after it must not be read.
      const r = reader(Buffer.concat([all.subarray(0, end), Buffer.alloc(16, 0xff)]));
      const whole = ends.filter((e) => e <= end).length;
      for (let i = 0; i < whole; i++) expect(readOne(r, i, end)).toEqual(expected[i]);
      expect(r.pos).toBe(whole === 0 ? 0 : ends[whole - 1]);
      if (whole < parts.length) expect(() => readOne(r, whole, end)).toThrow(GIVE_UP);
    }
  });

  it('gives the same string object for the same bytes, by position and by hash', () => {
    const strings = new StringTable();
    const a = Buffer.from('..host=router1..');
    const b = Buffer.from('host=router1');
    const first = strings.at(a, 2, 14);
    strings.index = 0;
    expect(strings.at(b, 0, b.length)).toBe(first); // the position cache
    for (let i = 0; i < 400; i++) strings.at(Buffer.from(`s${i}`), 0, `s${i}`.length);
    strings.index = 100; // past the positions: the hash cache
    const again = strings.at(Buffer.from('s399'), 0, 4);
    expect(again).toBe('s399');
    expect(strings.at(Buffer.from('s399'), 0, 4)).toBe(again);
  });
});
