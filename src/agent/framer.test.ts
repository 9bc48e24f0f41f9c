import { describe, expect, it } from 'vitest';
import { FrameError } from './errors.js';
import { encodeVarint, frame, FrameDecoder } from './framer.js';

// The slow, obviously correct builder: frames are concatenated varint(len) ++ body.
function bodies(): Uint8Array[] {
  return [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    new Uint8Array(200).map((_, i) => i), // two-byte length prefix
    new Uint8Array([9]),
  ];
}

function collect(decoder: FrameDecoder, chunks: Uint8Array[]): number[][] {
  const out: number[][] = [];
  for (const c of chunks) decoder.push(c, (f) => out.push([...f]));
  return out;
}

describe('FrameDecoder', () => {
  const stream = Buffer.concat(bodies().map(frame));
  const expected = bodies().map((b) => [...b]);

  it('decodes frames whole in one chunk', () => {
    expect(collect(new FrameDecoder(), [stream])).toEqual(expected);
  });

  it('decodes the same frames for every single split point of the stream', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = collect(new FrameDecoder(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got, `split at ${cut}`).toEqual(expected);
    }
  });

  it('decodes a frame with a three-byte prefix split anywhere in or near its prefix', () => {
    const big = new Uint8Array(20_000).map((_, i) => i % 251);
    const f = Buffer.concat([frame(new Uint8Array([1])), frame(big), frame(new Uint8Array([2]))]);
    for (const cut of [1, 2, 3, 4, 5, 6, 100, 10_000, f.length - 3, f.length - 2, f.length - 1]) {
      const got: Uint8Array[] = [];
      const d = new FrameDecoder();
      d.push(f.subarray(0, cut), (x) => got.push(x.slice()));
      d.push(f.subarray(cut), (x) => got.push(x.slice()));
      expect(
        got.map((x) => x.length),
        `split at ${cut}`,
      ).toEqual([1, 20_000, 1]);
      expect(Buffer.compare(Buffer.from(got[1]), Buffer.from(big)), `split at ${cut}`).toBe(0);
    }
  });

  it('decodes byte by byte', () => {
    const chunks = [...stream].map((b) => new Uint8Array([b]));
    expect(collect(new FrameDecoder(), chunks)).toEqual(expected);
  });

  it('decodes random multi-way splits (seeded)', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = 1 + Math.floor(rand() * 300);
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(collect(new FrameDecoder(), chunks)).toEqual(expected);
    }
  });

  it('reports midFrame while a prefix or body is incomplete', () => {
    const d = new FrameDecoder();
    const f = frame(new Uint8Array(200));
    d.push(f.subarray(0, 1), () => undefined);
    expect(d.midFrame).toBe(true);
    d.push(f.subarray(1, 50), () => undefined);
    expect(d.midFrame).toBe(true);
    d.push(f.subarray(50), () => undefined);
    expect(d.midFrame).toBe(false);
  });

  it('rejects a length over the limit before buffering any body', () => {
    const d = new FrameDecoder(1000);
    const prefix = Buffer.from(encodeVarint(1001));
    expect(() => d.push(prefix, () => undefined)).toThrow(FrameError);
    expect(() => new FrameDecoder(1000).push(prefix, () => undefined)).toThrow(/1001 exceeds the limit of 1000/);
  });

  it('rejects a runaway varint even when split', () => {
    const d = new FrameDecoder(Number.MAX_SAFE_INTEGER);
    const bytes = new Uint8Array(11).fill(0x80);
    expect(() => {
      for (const b of bytes) d.push(new Uint8Array([b]), () => undefined);
    }).toThrow(/longer than 10 bytes/);
  });

  it('accepts a frame exactly at the limit', () => {
    const got = collect(new FrameDecoder(300), [frame(new Uint8Array(300))]);
    expect(got).toHaveLength(1);
    expect(got[0]).toHaveLength(300);
  });
});
