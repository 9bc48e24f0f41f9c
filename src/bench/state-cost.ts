/**
 * What `serve --state-dir` costs on the hot path, measured in process: the bench workload (src/bench/workload.ts)
 * through the real UdfConnection in 64 KiB chunks (a socket read), with and without a StateStore, interleaved, CPU time
 * per point (user + system: the state log's write is a system call). Less exposed than the socket benchmark to a
 * shared machine: no second process, no scheduler between client and server.
 *
 *   node dist/bench/state-cost.js [--points 200000] [--reps 9] [--groups 1,10000] [--compact-bytes N] [--state-interval-ms N]
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UdfConnection } from '../agent/connection.js';
import { StateStore } from '../agent/state-store.js';
import { BENCH_FUNCTIONS, buildWorkload, initFrame, type BenchFunction, type Workload } from './workload.js';
import { findFunction } from '../udf/registry.js';

const CHUNK = 64 * 1024;

class FakeInput extends EventEmitter {
  pause(): void {}
  resume(): void {}
  destroy(): void {
    this.emit('close');
  }
}

class NullOutput extends EventEmitter {
  bytes = 0;
  write(b: Uint8Array): boolean {
    this.bytes += b.length;
    return true;
  }
  end(cb?: () => void): void {
    cb?.();
    this.emit('close');
  }
  destroy(): void {}
}

let runs = 0;

/** CPU µs per point for one pass of the workload. */
function once(fn: BenchFunction, w: Workload, store: StateStore | undefined): number {
  const input = new FakeInput();
  const output = new NullOutput();
  const conn = new UdfConnection(findFunction(fn.name), input as never, output as never, { stateStore: store });
  void conn;
  input.emit('data', Buffer.from(initFrame(fn, `cost-${++runs}`)));
  const start = process.cpuUsage();
  for (let i = 0; i < w.frames.length; i += CHUNK) input.emit('data', w.frames.subarray(i, Math.min(i + CHUNK, w.frames.length)));
  const used = process.cpuUsage(start);
  input.emit('end');
  return ((used.user + used.system) * 1000) / w.points; // ns per point
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      points: { type: 'string', default: '200000' },
      reps: { type: 'string', default: '9' },
      groups: { type: 'string', default: '1,10000' },
      'compact-bytes': { type: 'string' },
      'state-interval-ms': { type: 'string' },
    },
  });
  const compactBytes = values['compact-bytes'] === undefined ? undefined : Number(values['compact-bytes']);
  const fsyncIntervalMs = values['state-interval-ms'] === undefined ? undefined : Number(values['state-interval-ms']);
  const points = Number(values.points);
  const reps = Number(values.reps);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'udf-state-cost-'));
  const lines = ['| function | groups | without, ns/point | with --state-dir, ns/point | paired ratio (median) |', '|---|---:|---:|---:|---:|'];
  try {
    for (const groups of String(values.groups).split(',').map(Number)) {
      const w = buildWorkload(points, groups);
      for (const fn of BENCH_FUNCTIONS) {
        const store = new StateStore({ dir: path.join(dir, `${fn.name}-${groups}`), compactBytes, fsyncIntervalMs });
        once(fn, w, undefined); // warm-up
        once(fn, w, store);
        const off: number[] = [];
        const on: number[] = [];
        const ratios: number[] = [];
        for (let r = 0; r < reps; r++) {
          const a = once(fn, w, undefined);
          const b = once(fn, w, store);
          off.push(a);
          on.push(b);
          ratios.push(b / a);
          await new Promise((res) => setImmediate(res)); // let compactions run
        }
        await store.close();
        lines.push(`| ${fn.name} | ${groups.toLocaleString('en-US')} | ${median(off).toFixed(0)} | ${median(on).toFixed(0)} | ${median(ratios).toFixed(2)} |`);
        process.stderr.write(`${lines[lines.length - 1]}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\n${points.toLocaleString('en-US')} points, ${reps} interleaved repetitions, medians; ${os.cpus().length} × ${os.cpus()[0]?.model}\n\n${lines.join('\n')}\n`,
  );
}

void main();
