/**
 * The program `npm run bench:instructions` counts (instructions.ts runs it under valgrind): the bench's points fed to
 * UdfConnection in this process, over in-memory streams, in 256 KiB slices (the bulk feeding), no socket and no
 * other process, so that what is counted is the sidecar's own work.
 *
 *   node instructions-feed.js DIST FUNCTIONS GROUPS POINTS REPS [FUNCTION:EXTRA]
 *
 * DIST is the dist/ of the build measured (this one or another, for an A/B): its connection and functions are loaded
 * from there; the frames are this build's workload, so both builds get the same bytes. Each repetition serves every
 * function in FUNCTIONS on a fresh connection, as one sidecar serves them all; FUNCTION:EXTRA then serves one of them
 * EXTRA times more. What that adds, divided by EXTRA × POINTS, is that function's instructions per point.
 */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { FrameDecoder } from '../agent/framer.js';
import { TAG_ERROR, TAG_KEEPALIVE, WRITE_SLICE } from './drive.js';
import { BENCH_FUNCTIONS, buildWorkload, expectedOutputs, initFrame, sentinelFrame } from './workload.js';

interface Connection {
  done: Promise<unknown>;
}
type ConnectionClass = new (fn: unknown, input: PassThrough, output: PassThrough, options: object) => Connection;

async function main(): Promise<void> {
  const [dist, functions, groups, points, reps, extra] = process.argv.slice(2);
  if (reps === undefined) throw new Error('usage: instructions-feed.js DIST FUNCTIONS GROUPS POINTS REPS [FUNCTION:EXTRA]');
  const load = (file: string) => import(pathToFileURL(path.resolve(dist, file)).href);
  const { UdfConnection } = (await load('agent/connection.js')) as { UdfConnection: ConnectionClass };
  const { findFunction } = (await load('udf/registry.js')) as { findFunction(name: string): unknown };
  const w = buildWorkload(Number(points), Number(groups));
  const byName = new Map(BENCH_FUNCTIONS.map((f) => [f.name, f]));

  const serve = async (name: string): Promise<void> => {
    const fn = byName.get(name);
    if (fn === undefined) throw new Error(`${name} is not a bench function`);
    const input = new PassThrough();
    const output = new PassThrough();
    // The answers are counted (framed, not decoded: the same few instructions for either build), so that a run that
    // failed or lost points is an error, not a cheap count.
    const framer = new FrameDecoder();
    let answers = 0;
    let failed = false;
    output.on('data', (chunk: Buffer) =>
      framer.pushRanges(chunk, (buf, at) => {
        if (buf[at] === TAG_ERROR) failed = true;
        else if (buf[at] !== TAG_KEEPALIVE) answers++;
      }),
    );
    const connection = new UdfConnection(findFunction(name), input, output, {});
    input.write(initFrame(fn));
    for (let at = 0; at < w.frames.length; at += WRITE_SLICE) {
      if (!input.write(w.frames.subarray(at, at + WRITE_SLICE))) await new Promise((resolve) => input.once('drain', resolve));
    }
    input.end(sentinelFrame());
    await connection.done;
    // One answer more than the function emits: the Init's.
    const expected = expectedOutputs(fn, w) + 1;
    if (failed || answers !== expected)
      throw new Error(`${name} in ${dist}: ${failed ? 'answered an ErrorResponse' : `${answers} answers, expected ${expected}`}`);
  };

  for (let r = 0; r < Number(reps); r++) for (const name of functions.split(',')) await serve(name);
  if (extra !== undefined) {
    const [name, times] = extra.split(':');
    for (let i = 0; i < Number(times); i++) await serve(name);
  }
}

main().catch((err) => {
  process.stderr.write(`instructions-feed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
