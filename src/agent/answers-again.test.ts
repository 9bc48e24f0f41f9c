import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findFunction } from '../udf/registry.js';
import { connectInMemory, initOptions, streamPoint } from '../udf/testing.js';
import { AGAIN_MAX_BYTES, AGAIN_WINDOW_MS, RecentAnswers } from './answers-again.js';
import { decodeResponse, RequestDecoder, ResponseWriter } from './codec.js';
import { FrameDecoder } from './framer.js';
import type { Point, Request, Response } from './messages.js';
import { REC_HEAD, TIME_MARK_MS } from './state-files.js';
import { StateStore } from './state-store.js';

const S = 1_000_000_000n;
const stores: StateStore[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) await s.close();
});

function newStore(dir: string) {
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m), debug: () => undefined };
  const store = new StateStore({ dir, log: log as never });
  stores.push(store);
  return { store, lines };
}

/** A connection of one task node over in-memory streams; what it answers, decoded, per send. */
function connect(store: StateStore, name: string, log?: object) {
  const c = connectInMemory(name, { stateStore: store, log: log as never });
  return {
    ...c,
    init: () => c.send({ kind: 'init', options: initOptions(findFunction(name), { field: 'value' }), taskId: 'task1', nodeId: `${name}2` }),
  };
}

const point = (t: bigint, value: string): Point => ({ ...streamPoint('adsl', { host: 'r1' }, t * S, { fieldsString: { value } }), group: 'host=r1' });
const begin: Request = { kind: 'begin', begin: { name: 'adsl', group: 'host=r1', tags: { host: 'r1' }, size: 0n, byName: false } };
const end = (t: bigint): Request => ({ kind: 'end', end: { name: 'adsl', group: 'host=r1', tmax: t * S, tags: { host: 'r1' }, byName: false } });
/** One query's batch: the points at seconds 1..n, the state changing every second one. */
const query = (n: number): Request[] => [
  begin,
  ...Array.from({ length: n }, (_, i) => ({ kind: 'point' as const, point: point(BigInt(i + 1), i % 4 < 2 ? 'SHOWTIME' : 'TRAINING') })),
  end(BigInt(n)),
];
/** The answers as Kapacitor reads them: a batch as `[edge seconds]`, a stream point as its second. */
const read = (rs: Response[]) =>
  rs.flatMap((r) => (r.kind === 'begin' ? ['['] : r.kind === 'end' ? [']'] : r.kind === 'point' ? [String(r.point.time / S)] : [])).join(' ');
const fresh = () => mkdtempSync(path.join(tmpdir(), 'udf-again-'));

describe('answers sent again on the next connection of a task node', () => {
  it('the edges of a batch Kapacitor dropped as it stopped the task reach it from the next connection', async () => {
    const { store } = newStore(fresh());
    const a = connect(store, 'edgeDetectBatch');
    await a.init();
    expect(read(await a.send(...query(4)))).toBe('[ 1 3 ]');
    // Kapacitor reads this answer and stops the task before passing it on: edges 5 and 7 never reach InfluxDB.
    expect(read(await a.send(...query(8)))).toBe('[ 5 7 ]');
    await a.close();
    const b = connect(store, 'edgeDetectBatch');
    await b.init();
    // The next query (its period overlaps) brings every point again; those seen before are skipped, so without the
    // answers of a's last seconds sent again first, edges 5 and 7 would be lost for good.
    expect(read(await b.send(...query(10)))).toBe('[ 1 3 ] [ 5 7 ] [ 9 ]');
    await b.close();
  });

  it('from a process that died: rebuilt from the log, the answers of its last seconds only (by the log time marks)', async () => {
    // The clock the log is dated by goes back a while; the log's last write (its file's time) is now.
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now - 4 * AGAIN_WINDOW_MS);
    const dir = fresh();
    const a = connect(newStore(dir).store, 'edgeDetect');
    await a.init();
    await a.send({ kind: 'point', point: point(1n, 'SHOWTIME') });
    vi.setSystemTime(now - AGAIN_WINDOW_MS / 2);
    expect(read(await a.send({ kind: 'point', point: point(2n, 'TRAINING') }))).toBe('2');
    await a.send({ kind: 'point', point: point(3n, 'TRAINING') }, { kind: 'point', point: point(4n, 'SHOWTIME') });
    // kill -9: never closed; a new process reads the directory.
    const b = connect(newStore(dir).store, 'edgeDetect');
    await b.init();
    expect(read(await b.send({ kind: 'point', point: point(5n, 'TRAINING') }))).toBe('2 4 5');
  });

  it('dates the log with Keepalives between frames, so earlier builds read it (only B and D records, valid input)', async () => {
    const dir = fresh();
    const a = connect(newStore(dir).store, 'edgeDetect');
    await a.init();
    const before = BigInt(Date.now()) * 1_000_000n;
    await a.send({ kind: 'point', point: point(1n, 'SHOWTIME') });
    await new Promise((r) => setTimeout(r, TIME_MARK_MS + 20));
    await a.send({ kind: 'point', point: point(2n, 'TRAINING') });
    const log = readFileSync(path.join(dir, 'tasks', 'task1', 'edgeDetect2', 'log.0'));
    const types = new Set<number>();
    const input: Request[] = [];
    const framer = new FrameDecoder();
    const decoder = new RequestDecoder();
    for (let i = 0; i < log.length; i = i + REC_HEAD + log.readUInt32LE(i + 1)) {
      types.add(log[i]);
      framer.push(log.subarray(i + REC_HEAD, i + REC_HEAD + log.readUInt32LE(i + 1)), (f) => input.push(decoder.decode(f)));
    }
    expect([...types]).toEqual([0x42]);
    expect(input.map((r) => r.kind)).toEqual(['keepalive', 'point', 'keepalive', 'point']);
    for (const r of input) if (r.kind === 'keepalive') expect(r.time >= before && r.time <= BigInt(Date.now()) * 1_000_000n).toBe(true);
    await a.close();
  });

  it('waits for the first point: Init, Restore and Keepalive are answered alone (Kapacitor would not read further)', async () => {
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: () => undefined, error: () => undefined, debug: () => undefined };
    const { store } = newStore(fresh());
    const a = connect(store, 'edgeDetect');
    await a.init();
    const snapshot = (await a.send({ kind: 'point', point: point(1n, 'SHOWTIME') }, { kind: 'snapshot' }))[1];
    await a.close();
    const b = connect(store, 'edgeDetect', log);
    expect(await b.init()).toEqual([{ kind: 'init', success: true, error: '' }]);
    expect(await b.send({ kind: 'restore', snapshot: (snapshot as { snapshot: Uint8Array }).snapshot })).toEqual([
      { kind: 'restore', success: true, error: '' },
    ]);
    expect(await b.send({ kind: 'keepalive', time: 7n })).toEqual([{ kind: 'keepalive', time: 7n }]);
    expect(read(await b.send({ kind: 'point', point: point(2n, 'TRAINING') }))).toBe('1 2');
    expect(lines).toContain('answers sent again: Kapacitor may have dropped them when the task stopped');
    // Sent once: the next point is answered alone.
    expect(read(await b.send({ kind: 'point', point: point(3n, 'SHOWTIME') }))).toBe('3');
    await b.close();
  });

  it('a connection that ended before its first point passes them on, ahead of its own', async () => {
    const { store } = newStore(fresh());
    const a = connect(store, 'edgeDetect');
    await a.init();
    await a.send({ kind: 'point', point: point(1n, 'SHOWTIME') });
    await a.close();
    const b = connect(store, 'edgeDetect');
    await b.init();
    await b.close();
    const c = connect(store, 'edgeDetect');
    await c.init();
    expect(read(await c.send({ kind: 'point', point: point(2n, 'TRAINING') }))).toBe('1 2');
    await c.close();
  });
});

describe('RecentAnswers', () => {
  const encoded = (...rs: Response[]) => {
    const w = new ResponseWriter();
    for (const r of rs) w.push(r);
    return w.take();
  };
  const decoded = (b: Uint8Array | null) => {
    const out: Response[] = [];
    if (b !== null) new FrameDecoder().push(b, (f) => out.push(decodeResponse(f)));
    return out;
  };

  it('keeps the points and batches of the window, whole, and leaves Init, Keepalive, Snapshot and errors out', () => {
    const r = new RecentAnswers(() => 0);
    const b = begin as { begin: import('./messages.js').BeginBatch };
    const e = end(2n) as { end: import('./messages.js').EndBatch };
    r.add(encoded({ kind: 'init', success: true, error: '' }, { kind: 'point', point: point(1n, 'A') }), 0);
    r.add(
      encoded({ kind: 'keepalive', time: 1n }, { kind: 'begin', begin: b.begin }, { kind: 'point', point: point(2n, 'B') }, { kind: 'end', end: e.end }),
      10,
    );
    r.add(encoded({ kind: 'snapshot', snapshot: new Uint8Array(3) }, { kind: 'error', error: 'x' }), 20);
    expect(read(decoded(r.dataFrames(20)))).toBe('1 [ 2 ]');
    expect(read(decoded(r.dataFrames(AGAIN_WINDOW_MS + 5)))).toBe('[ 2 ]');
    expect(r.dataFrames(AGAIN_WINDOW_MS + 100)).toBeNull();
  });

  it('holds its newest write and at most AGAIN_MAX_BYTES of those before, dropping the oldest', () => {
    const r = new RecentAnswers(() => 0);
    const big = (t: bigint) => encoded({ kind: 'point', point: { ...point(t, 'x'.repeat(AGAIN_MAX_BYTES / 3)) } });
    for (let t = 1n; t <= 6n; t++) r.add(big(t), Number(t));
    expect(read(decoded(r.dataFrames(6)))).toBe('4 5 6');
    const huge = encoded({ kind: 'point', point: point(7n, 'y'.repeat(AGAIN_MAX_BYTES * 2)) });
    r.add(huge, 7);
    expect(read(decoded(r.dataFrames(7)))).toBe('5 6 7');
  });
});
