/**
 * The answers a task node sends again on its next connection.
 *
 * Kapacitor stops a task by aborting its UDF node: answers it has read but not yet passed on, and what is still in the
 * socket, are dropped. A crash drops what was written and not read. The states went on (the state dir logged their
 * input first), so without those answers their outputs would be missing for good: a batch's edges (the next query's
 * points at or before the last one seen are skipped), a moving average, a rate. So a connection keeps the data answers
 * (points and batches) it wrote in its last AGAIN_WINDOW_MS, at most AGAIN_MAX_BYTES of them besides its last write,
 * and the state store keeps them with the task node's states; the next connection sends them again before the answer
 * to its first point or batch. Not earlier: until then Kapacitor may be in Init or Restore, when the reader that
 * takes a point waits for the task to run, and the Restore answer behind it would never be read.
 *
 * Outputs are therefore at least once, not at most once: written to InfluxDB a point sent again (same series, same
 * time, same fields) replaces itself.
 *
 *   write  := frame*              (as ResponseWriter.take() handed it out: whole frames, a batch in one write)
 *   frame  := varint(length) Response
 *   kept   := the frames whose Response is 16:begin, 17:point or 18:end (wire/tags.ts)
 */
import { FrameDecoder } from './framer.js';
import { Tag } from './wire/tags.js';

export const AGAIN_WINDOW_MS = 5000;
export const AGAIN_MAX_BYTES = 1024 * 1024;
const NONE = new Uint8Array(0);

export class RecentAnswers {
  private writes: Uint8Array[] = [];
  private times: number[] = [];
  /** The oldest write still kept; those before it are cut off the arrays now and then, not at every write. */
  private head = 0;
  /** Bytes of the kept writes but the newest. */
  private older = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A write that left (a view the caller never writes again). */
  add(write: Uint8Array, at: number = this.now()): void {
    const n = this.writes.length;
    if (n > this.head) this.older += this.writes[n - 1].length;
    this.writes.push(write);
    this.times.push(at);
    while (this.head < n && (this.times[this.head] < at - AGAIN_WINDOW_MS || this.older > AGAIN_MAX_BYTES)) {
      this.older -= this.writes[this.head].length;
      this.writes[this.head++] = NONE; // its slab may go
    }
    if (this.head > 1024 && this.head * 2 > this.writes.length) {
      this.writes.splice(0, this.head);
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The data frames of the writes made in the AGAIN_WINDOW_MS before `end`, in order; null when there are none. */
  dataFrames(end: number = this.now()): Uint8Array | null {
    const kept: Uint8Array[] = [];
    for (let i = this.head; i < this.writes.length; i++) {
      if (this.times[i] >= end - AGAIN_WINDOW_MS) keptFrames(this.writes[i], kept);
    }
    return kept.length === 0 ? null : Buffer.concat(kept);
  }
}

/** The frames of one write that carry data, pushed to `kept` (views of `write`). */
function keptFrames(write: Uint8Array, kept: Uint8Array[]): void {
  const framer = new FrameDecoder();
  let from = 0;
  framer.pushRanges(write, (buf, start, end) => {
    const t = buf[start];
    if (buf[start + 1] === Tag.PointFrame1 && (t === Tag.BeginFrame0 || t === Tag.PointFrame0 || t === Tag.EndFrame0)) kept.push(write.subarray(from, end));
    from = end;
  });
}

/** Joins answers still to be sent again with newer ones (a connection that ended before it could send them). */
export function joinAnswers(older: Uint8Array | null, newer: Uint8Array | null): Uint8Array | null {
  if (older === null) return newer;
  return newer === null ? older : Buffer.concat([older, newer]);
}
