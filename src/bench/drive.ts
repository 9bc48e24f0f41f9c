/**
 * One timed run of `npm run bench` (see run.ts): a fresh connection to a Unix socket, Init answered before the clock
 * starts, the pre-encoded points written with backpressure, the clock stopped by the answer to a Keepalive sent after
 * them. Two ways of feeding: `bulk` writes large slices of one buffer; `kapacitor` writes as Kapacitor's UDF node
 * does, each point as two writes (its length, then its message).
 */
import { once } from 'node:events';
import net from 'node:net';
import { decodeResponse } from '../agent/codec.js';
import { FrameDecoder } from '../agent/framer.js';
import { sentinelFrame, type Workload } from './workload.js';

// First byte of a frame body is the tag of the oneof field: Keepalive is field 3 in Request and Response alike (so the
// echo's copy of our sentinel ends an echo run too); ErrorResponse is field 6. Both length-delimited (wire type 2).
export const TAG_KEEPALIVE = (3 << 3) | 2;
export const TAG_ERROR = (6 << 3) | 2;
export const WRITE_SLICE = 256 * 1024;
const RUN_TIMEOUT_MS = 300_000;

export type Feed = 'bulk' | 'kapacitor';
export const FEEDS: readonly Feed[] = ['bulk', 'kapacitor'];

/** Each frame as Kapacitor writes it: its length prefix, then its body, as two views of the workload's buffer. */
export function kapacitorPieces(frames: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < frames.length) {
    let len = 0;
    let shift = 0;
    let i = at;
    for (;;) {
      const b = frames[i++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    out.push(frames.subarray(at, i), frames.subarray(i, i + len));
    at = i + len;
  }
  return out;
}

export interface Measured {
  ms: number;
  pointsPerSec: number;
}

/**
 * One timed run on a fresh connection. `init` (absent for the echo) is sent and answered before the clock starts;
 * frames received before the sentinel's answer are counted and must equal `expected`.
 */
export async function drive(
  socketPath: string,
  w: Workload,
  init: Uint8Array | null,
  expected: number,
  feed: Feed,
  pieces: Buffer[],
  /** The Go agent answers a Keepalive from its reading goroutine, ahead of answers still queued: then the run ends at
   * the last output instead. The sidecar answers in order, and its count is checked at the Keepalive's answer. */
  keepaliveMayOvertake = false,
): Promise<Measured> {
  const socket = net.connect({ path: socketPath, allowHalfOpen: true });
  await once(socket, 'connect');
  const framer = new FrameDecoder();
  let count = 0;
  // Frames as byte ranges: the client only counts outputs, and a Buffer view per frame would cost it more CPU than
  // the counting (on two cores, its CPU is taken from the server's).
  let onFrame: (buf: Uint8Array, at: number, end: number) => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  socket.on('data', (chunk: Buffer) => {
    try {
      framer.pushRanges(chunk, onFrame);
    } catch (err) {
      fail(err as Error);
    }
  });
  socket.on('error', (err) => fail(err));

  try {
    if (init) {
      const answer = new Promise<void>((resolve, reject) => {
        fail = reject;
        onFrame = (buf, at, end) => {
          const r = decodeResponse(buf.subarray(at, end));
          if (r.kind === 'init' && r.success) resolve();
          else reject(new Error(`Init answered ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`));
        };
      });
      socket.write(init);
      await answer;
    }

    let start = 0;
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`run timed out after ${count} of ${expected} outputs`)), RUN_TIMEOUT_MS);
      fail = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      let sentinelSeen = false;
      const finish = () => {
        clearTimeout(timer);
        resolve(performance.now() - start);
      };
      onFrame = (buf, at, end) => {
        const tag = buf[at];
        if (tag === TAG_KEEPALIVE) {
          sentinelSeen = true;
          if (!keepaliveMayOvertake || count >= expected) finish();
        } else if (tag === TAG_ERROR && init) {
          fail(new Error(`ErrorResponse: ${JSON.stringify(decodeResponse(buf.subarray(at, end)))}`));
        } else {
          count++;
          if (sentinelSeen && count === expected) finish();
        }
      };
      socket.once('end', () => fail(new Error(`server ended the connection after ${count} outputs`)));
    });

    start = performance.now();
    if (feed === 'bulk') {
      const bytes = w.frames;
      for (let off = 0; off < bytes.length; off += WRITE_SLICE) {
        if (!socket.write(bytes.subarray(off, off + WRITE_SLICE))) await once(socket, 'drain');
      }
    } else {
      for (let i = 0; i < pieces.length; i++) {
        if (!socket.write(pieces[i])) await once(socket, 'drain');
      }
    }
    socket.write(sentinelFrame());
    const ms = await done;
    if (count !== expected) throw new Error(`expected ${expected} outputs, got ${count}`);
    return { ms, pointsPerSec: (w.points * 1000) / ms };
  } finally {
    socket.removeAllListeners('end');
    socket.end();
    socket.destroy();
  }
}
