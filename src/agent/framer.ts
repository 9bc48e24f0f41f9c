import { FrameError } from './errors.js';

/** Kapacitor's own frames are small (one point each); 16 MiB leaves room for huge tag sets and snapshots. */
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;

/**
 * Splits a byte stream into varint-length-delimited frames, sans-IO: chunks in, complete frames out.
 *
 * The length prefix is read byte by byte as a small state machine, so a prefix split across chunks needs no buffer,
 * and it is checked against the limit before a single body byte is kept: a corrupt prefix fails at once instead of
 * growing a buffer. A frame wholly inside a chunk is handed out as a view of that chunk (no copy); only a frame that
 * spans chunks is copied, once, into a buffer of its exact size. Neither is ever written again, so a frame stays valid
 * as long as the caller does not reuse its chunks (Node's socket and stdin chunks are fresh buffers).
 */
export class FrameDecoder {
  private lenValue = 0;
  private lenShift = 0;
  private lenBytes = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private stopped = false;

  constructor(readonly maxFrame: number = DEFAULT_MAX_FRAME) {}

  /** True while part of a frame (prefix or body) has been seen but not all of it. */
  get midFrame(): boolean {
    return this.body !== null || this.lenBytes > 0;
  }

  /** Bytes the frame in progress still needs of its body (0 unless a body spans chunks). */
  get bodyMissing(): number {
    return this.body === null ? 0 : this.body.length - this.bodyFilled;
  }

  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    this.pushRanges(chunk, (buf, start, end) => onFrame(buf.subarray(start, end)));
  }

  /**
   * Called from onFrame: no frame is handed out after this one, and pushRanges returns where reading stopped (the
   * caller pushes the rest of the chunk later, when it can take more).
   */
  stop(): void {
    this.stopped = true;
  }

  /**
   * As push, but a frame is handed out as where it lies — buf[start, end) — so the hot path makes no view object per
   * frame. Returns where in the chunk reading ended: its length, or less after stop().
   */
  pushRanges(chunk: Uint8Array, onFrame: (buf: Uint8Array, start: number, end: number) => void): number {
    const n = chunk.length;
    let i = 0;
    this.stopped = false;
    while (i < n) {
      if (this.stopped) return i;
      if (this.body !== null) {
        const take = Math.min(this.body.length - this.bodyFilled, n - i);
        this.body.set(chunk.subarray(i, i + take), this.bodyFilled);
        this.bodyFilled += take;
        i += take;
        if (this.bodyFilled === this.body.length) {
          const frame = this.body;
          this.body = null;
          onFrame(frame, 0, frame.length);
        }
        continue;
      }
      if (this.lenBytes === 0 && n - i >= 2 && this.maxFrame >= 0x3fff) {
        // The common case, a prefix of one or two bytes wholly in the chunk, read without the state machine (and
        // within any limit of at least 2^14 - 1, so no check is due).
        const b0 = chunk[i];
        let len = -1;
        let after = i + 1;
        if (b0 < 0x80) len = b0;
        else if (chunk[i + 1] < 0x80) {
          len = (b0 & 0x7f) | (chunk[i + 1] << 7);
          after = i + 2;
        }
        if (len >= 0) {
          // The whole body in the chunk, handed out here: one call less per frame on the path of nearly all of them.
          if (n - after >= len) {
            i = after + len;
            onFrame(chunk, after, i);
          } else i = this.frameAt(chunk, after, len, onFrame);
          continue;
        }
      }
      const b = chunk[i++];
      // Multiplication, not shifts: 32-bit shifts would wrap long before the limit check could see the value.
      this.lenValue += (b & 0x7f) * 2 ** this.lenShift;
      this.lenShift += 7;
      this.lenBytes++;
      if (this.lenValue > this.maxFrame) {
        throw new FrameError(`frame length ${this.lenValue} exceeds the limit of ${this.maxFrame} bytes`);
      }
      if (b & 0x80) {
        if (this.lenBytes >= 10) throw new FrameError('frame length varint is longer than 10 bytes');
        continue;
      }
      const len = this.lenValue;
      this.lenValue = 0;
      this.lenShift = 0;
      this.lenBytes = 0;
      i = this.frameAt(chunk, i, len, onFrame);
    }
    return n;
  }

  /**
   * A body of `len` bytes starts at `i`: handed out as a view when the chunk holds all of it, otherwise a buffer of its
   * exact size is started (filled by the next chunks). Returns where reading goes on.
   */
  private frameAt(chunk: Uint8Array, i: number, len: number, onFrame: (buf: Uint8Array, start: number, end: number) => void): number {
    if (chunk.length - i >= len) {
      onFrame(chunk, i, i + len);
      return i + len;
    }
    this.body = Buffer.allocUnsafe(len);
    this.bodyFilled = 0;
    return i;
  }
}

/** Appends the unsigned varint of `value` (a safe integer ≥ 0) to `out`; used by test drivers and the echo baseline. */
export function encodeVarint(value: number, out: number[] = []): number[] {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** One frame: varint length, then the body. */
export function frame(body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(encodeVarint(body.length)), body]);
}
