import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findFunction } from '../udf/registry.js';
import { connectInMemory, initOptions, streamPoint, type OptionInput } from '../udf/testing.js';
import { encodeRequest } from './codec.js';
import type { Request, Response } from './messages.js';
import { StateStore } from './state-store.js';

const S = 1_000_000_000n;
const stores: StateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function newStore(dir: string, compactBytes?: number) {
  const lines: string[] = [];
  const log = {
    info: (m: string, meta?: object) => lines.push(`info ${m} ${JSON.stringify(meta ?? {})}`),
    warn: (m: string, meta?: object) => lines.push(`warn ${m} ${JSON.stringify(meta ?? {})}`),
    error: (m: string, meta?: object) => lines.push(`error ${m} ${JSON.stringify(meta ?? {})}`),
    debug: () => undefined,
  };
  const store = new StateStore({ dir, log: log as never, compactBytes });
  stores.push(store);
  return { store, lines };
}

/** A connection over in-memory streams, the way the server makes one. */
function connect(store: StateStore, name = 'edgeDetect') {
  const c = connectInMemory(name, { stateStore: store });
  return {
    ...c,
    init: (values: Record<string, OptionInput | OptionInput[]>, taskId = 'task1', nodeId = 'edgeDetect2') =>
      c.send({ kind: 'init', options: initOptions(findFunction(name), values), taskId, nodeId }),
  };
}

const adsl = (host: string, t: bigint, value: string): Request => ({
  kind: 'point',
  point: streamPoint('adsl', { host }, t * S, { fieldsString: { value } }),
});
const edges = (rs: Response[]) => rs.flatMap((r) => (r.kind === 'point' ? [`${r.point.group} ${r.point.fieldsString.value} ${r.point.time / S}`] : []));
const fresh = () => mkdtempSync(path.join(tmpdir(), 'udf-state-'));
const nodeDir = (dir: string) => path.join(dir, 'tasks', 'task1', 'edgeDetect2');

describe('StateStore', () => {
  it('a task continues from its states on the next connection: no second first edge', async () => {
    const dir = fresh();
    const { store } = newStore(dir);
    const a = connect(store);
    expect(await a.init({ field: 'value' })).toEqual([{ kind: 'init', success: true, error: '' }]);
    expect(edges(await a.send(adsl('r1', 1n, 'SHOWTIME'), adsl('r2', 1n, 'TRAINING')))).toEqual(['host=r1 SHOWTIME 1', 'host=r2 TRAINING 1']);
    await a.close();
    const b = connect(store);
    await b.init({ field: 'value' });
    // a's answers of its last seconds first, sent again (answers-again.ts), then b's own.
    expect(edges(await b.send(adsl('r1', 2n, 'SHOWTIME'), adsl('r2', 2n, 'SHOWTIME')))).toEqual([
      'host=r1 SHOWTIME 1',
      'host=r2 TRAINING 1',
      'host=r2 SHOWTIME 2',
    ]);
    await b.close();
  });

  it('a process that died (no close, no compaction) is continued from its log by a new process', async () => {
    const dir = fresh();
    const { store } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    // The Init frame and the points in one chunk, then the points split in the middle of a frame.
    const chunk = Buffer.concat([adsl('r1', 1n, 'SHOWTIME'), adsl('r1', 2n, 'TRAINING')].map((r) => encodeRequest(r)));
    await a.send(adsl('r1', 0n, 'TRAINING'));
    expect(readdirSync(nodeDir(dir))).toEqual(['log.0', 'task.json']);
    const half = chunk.length - 7;
    (a.conn as unknown as { onChunk(c: Buffer): void }).onChunk(chunk.subarray(0, half));
    (a.conn as unknown as { onChunk(c: Buffer): void }).onChunk(chunk.subarray(half));
    // "kill -9": the first store is never closed; a second one (a new process) reads the same directory.
    const { store: again, lines } = newStore(dir);
    const b = connect(again);
    await b.init({ field: 'value' });
    // The dead process's answers of its last seconds, rebuilt from the log, are sent again before b's own.
    expect(edges(await b.send(adsl('r1', 3n, 'TRAINING'), adsl('r1', 4n, 'SHOWTIME')))).toEqual([
      'host=r1 TRAINING 0',
      'host=r1 SHOWTIME 1',
      'host=r1 TRAINING 2',
      'host=r1 SHOWTIME 4',
    ]);
    expect(lines.join('\n')).toMatch(/state continued from the state dir.*"groups":1/);
  });

  it('a Restore older than the state dir is acknowledged and not applied; the log says which won', async () => {
    const dir = fresh();
    const { store, lines } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    await a.send(adsl('r1', 1n, 'SHOWTIME'));
    await a.send(adsl('r1', 2n, 'TRAINING'));
    // What Kapacitor stores, before the last point: r1 was still TRAINING.
    const snap = (await a.send({ kind: 'snapshot' }))[0];
    await new Promise((r) => setTimeout(r, 5));
    await a.send(adsl('r1', 3n, 'SHOWTIME'));
    await a.close();
    const b = connect(store);
    await b.init({ field: 'value' });
    expect(snap.kind).toBe('snapshot');
    const answer = await b.send({ kind: 'restore', snapshot: (snap as { snapshot: Uint8Array }).snapshot });
    expect(answer).toEqual([{ kind: 'restore', success: true, error: '' }]);
    expect(lines.join('\n')).toMatch(/the state dir's state won: Kapacitor's snapshot is older/);
    // Kapacitor's copy says TRAINING; ours SHOWTIME: a SHOWTIME point is no edge (a's answers are sent again first).
    expect(edges(await b.send(adsl('r1', 4n, 'SHOWTIME')))).toEqual(['host=r1 SHOWTIME 1', 'host=r1 TRAINING 2', 'host=r1 SHOWTIME 3']);
    await b.close();
    // And the decision holds when the log is read again (a crash of this process now).
    const { store: again } = newStore(dir);
    const c = connect(again);
    await c.init({ field: 'value' });
    // (b wrote a's answers again a moment ago: they are among b's last, and c sends them once more.)
    expect(edges(await c.send(adsl('r1', 5n, 'SHOWTIME'), adsl('r1', 6n, 'TRAINING')))).toEqual([
      'host=r1 SHOWTIME 1',
      'host=r1 TRAINING 2',
      'host=r1 SHOWTIME 3',
      'host=r1 TRAINING 6',
    ]);
  });

  it('compaction is atomic: a crash between writing and renaming leaves the previous state readable', async () => {
    const dir = fresh();
    const { store } = newStore(dir, 200); // a new base every few hundred bytes
    const a = connect(store);
    await a.init({ field: 'value' });
    for (let t = 1n; t <= 20n; t++) await a.send(adsl('r1', t, t % 2n ? 'SHOWTIME' : 'TRAINING'));
    await store.close();
    const files = readdirSync(nodeDir(dir));
    expect(files).toContain('state.json');
    expect(files.filter((f) => f.startsWith('log.')).length).toBeLessThanOrEqual(2); // compacted segments removed
    // The crash: a half-written temporary file beside the base.
    writeFileSync(path.join(nodeDir(dir), 'state.json.tmp'), '{"format":"kapacitor-udf-sid');
    const { store: again, lines } = newStore(dir);
    const b = connect(again);
    await b.init({ field: 'value' });
    // t=20 was TRAINING: the same value is no edge, the other one is.
    expect(edges(await b.send(adsl('r1', 21n, 'TRAINING'), adsl('r1', 22n, 'SHOWTIME')))).toEqual(['host=r1 SHOWTIME 22']);
    expect(lines.join('\n')).not.toMatch(/damaged/);
  });

  it('a damaged state file is logged and moved aside; Init succeeds and the task starts fresh', async () => {
    const dir = fresh();
    const { store } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    await a.send(adsl('r1', 1n, 'SHOWTIME'));
    await a.close();
    await store.close();
    writeFileSync(path.join(nodeDir(dir), 'state.json'), '{"format":"kapacitor-udf-sidecar/state","segment":1}\n{not json');
    const { store: again, lines } = newStore(dir);
    const b = connect(again);
    expect(await b.init({ field: 'value' })).toEqual([{ kind: 'init', success: true, error: '' }]);
    expect(edges(await b.send(adsl('r1', 2n, 'SHOWTIME')))).toEqual(['host=r1 SHOWTIME 2']); // fresh: a first edge
    expect(lines.join('\n')).toMatch(/error state file damaged: moved aside, the task starts fresh/);
    const aside = readdirSync(path.join(dir, 'tasks', 'task1')).filter((f) => f.includes('.damaged-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(dir, 'tasks', 'task1', aside[0], 'state.json'), 'utf8')).toContain('{not json');
    await b.close();
  });

  it('a task redefined with other options does not inherit the old state', async () => {
    const dir = fresh();
    const { store, lines } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    await a.send(adsl('r1', 1n, 'SHOWTIME'));
    await a.close();
    const b = connect(store);
    await b.init({ field: 'value', emitFirst: true, previousAs: 'was' });
    expect(edges(await b.send(adsl('r1', 2n, 'SHOWTIME')))).toEqual(['host=r1 SHOWTIME 2']);
    expect(lines.join('\n')).toMatch(/task redefined with other options: its old state is removed/);
    await b.close();
  });

  it('a second connection of the same task node is served, not persisted; forget removes a deleted task', async () => {
    const dir = fresh();
    const { store, lines } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    const b = connect(store);
    expect(await b.init({ field: 'value' })).toEqual([{ kind: 'init', success: true, error: '' }]);
    expect(lines.join('\n')).toMatch(/another connection holds this task node/);
    expect(store.taskIds()).toEqual(['task1']);
    expect(await store.forget('task1')).toBe(false); // held
    await a.close();
    await b.close();
    expect(await store.forget('task1')).toBe(true);
    expect(existsSync(path.join(dir, 'tasks', 'task1'))).toBe(false);
  });

  it('a batch whose end never came (the process died inside it) is left out: its points are processed when Kapacitor sends them again', async () => {
    const dir = fresh();
    const { store } = newStore(dir);
    const a = connect(store, 'edgeDetectBatch');
    await a.init({ field: 'value' }, 'task1', 'edgeDetectBatch2');
    const begin: Request = { kind: 'begin', begin: { name: 'adsl', group: 'host=r1', tags: { host: 'r1' }, size: 0n, byName: false } };
    const end = (t: bigint): Request => ({ kind: 'end', end: { name: 'adsl', group: 'host=r1', tmax: t * S, tags: { host: 'r1' }, byName: false } });
    const bp = (t: bigint, value: string): Request => ({
      kind: 'point',
      point: { ...(adsl('r1', t, value) as { point: import('./messages.js').Point }).point, group: 'host=r1' },
    });
    expect(edges(await a.send(begin, bp(1n, 'SHOWTIME'), bp(2n, 'TRAINING'), end(2n)))).toEqual(['host=r1 SHOWTIME 1', 'host=r1 TRAINING 2']);
    await a.send(begin, bp(3n, 'SHOWTIME')); // no EndBatch: killed here
    const { store: again } = newStore(dir);
    const b = connect(again, 'edgeDetectBatch');
    await b.init({ field: 'value' }, 'task1', 'edgeDetectBatch2');
    // The next query brings the points again, with the ones processed in full before. The answer to the batch that
    // ended is sent again first.
    expect(edges(await b.send(begin, bp(2n, 'TRAINING'), bp(3n, 'SHOWTIME'), bp(4n, 'TRAINING'), end(4n)))).toEqual([
      'host=r1 SHOWTIME 1',
      'host=r1 TRAINING 2',
      'host=r1 SHOWTIME 3',
      'host=r1 TRAINING 4',
    ]);
    await b.close();
  });

  it("a Restore newer than the state dir's copy wins (the state dir was restored from an old backup)", async () => {
    const dir = fresh();
    const { store, lines } = newStore(dir);
    const a = connect(store);
    await a.init({ field: 'value' });
    await a.send(adsl('r1', 1n, 'SHOWTIME'));
    await a.close();
    await store.close();
    const b = connect(newStore(fresh()).store); // elsewhere: Kapacitor's snapshot of a run the state dir never saw
    await b.init({ field: 'value' });
    await b.send(adsl('r1', 2n, 'TRAINING'));
    await new Promise((r) => setTimeout(r, 20));
    const snap = (await b.send({ kind: 'snapshot' }))[0] as { snapshot: Uint8Array };
    const third = newStore(dir);
    const c = connect(third.store);
    await c.init({ field: 'value' });
    expect(await c.send({ kind: 'restore', snapshot: snap.snapshot })).toEqual([{ kind: 'restore', success: true, error: '' }]);
    expect(edges(await c.send(adsl('r1', 3n, 'TRAINING'), adsl('r1', 4n, 'SHOWTIME')))).toEqual(['host=r1 SHOWTIME 4']);
    expect(third.lines.join('\n')).toMatch(/Kapacitor's snapshot won: it is newer than the state dir's/);
    expect(lines.join('\n')).not.toMatch(/snapshot won/);
  });
});

describe('StateStore behind a snapshot request', () => {
  it('logs the points that wait behind a Snapshot in the same chunk once, so a new process replays each of them once', async () => {
    const dir = fresh();
    const { store } = newStore(dir);
    const a = connect(store, 'movingAverage');
    await a.init({ field: 'v', size: 5 }, 'task1', 'movingAverage2');
    const gauge = (t: bigint, v: number): Request => ({ kind: 'point', point: streamPoint('g', { host: 'h' }, t * S, { fieldsDouble: { v } }) });
    const other = (i: number): Request => ({ kind: 'point', point: streamPoint('g', { host: `o${i}` }, S, { fieldsDouble: { v: i } }) });
    // More groups than a snapshot takes in one step, so that it is built over several turns.
    await a.send(...Array.from({ length: 2500 }, (_, i) => other(i)));
    // One chunk: a point, a Snapshot request, and the points behind it, which the connection reads only once the
    // snapshot is answered.
    await a.send(gauge(1n, 1), { kind: 'snapshot' }, gauge(2n, 10), gauge(3n, 100));
    await new Promise((r) => setTimeout(r, 50));
    // "kill -9": the store is never closed; a new process reads the same directory and continues from the log.
    const { store: again } = newStore(dir);
    const b = connect(again, 'movingAverage');
    await b.init({ field: 'v', size: 5 }, 'task1', 'movingAverage2');
    const out = (await b.send(gauge(4n, 1000), gauge(5n, 10_000))).flatMap((r) => (r.kind === 'point' ? [r.point.fieldsDouble.movingAverage] : []));
    // Logged twice, the window would be 100, 10, 100, 1000, 10000.
    expect(out).toEqual([(1 + 10 + 100 + 1000 + 10_000) / 5]);
  });
});
