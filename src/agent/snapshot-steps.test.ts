/**
 * Snapshots of many groups are built a slice at a time: other connections are answered between the slices, requests
 * after a Snapshot wait for its answer (so a snapshot is of one moment), and answers are written before more input is
 * taken.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOptions, streamPoint } from '../udf/testing.js';
import { findFunction, servedFunctions } from '../udf/registry.js';
import { UdfClient } from './client.js';
import { encodeRequest } from './codec.js';
import { UdfServer } from './server.js';
import { decodeSnapshot } from './snapshot.js';

let dir: string;
let server: UdfServer;
/** Snapshots the server has built: read when another connection's answer arrives, in the same process. */
let built = 0;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'snap-'));
  server = new UdfServer(servedFunctions, { socketDir: dir, observer: { snapshot: () => built++ } });
  await server.listen();
});
afterAll(() => server.close());

const init = (fn: string) => ({ kind: 'init' as const, taskId: 't', nodeId: 'n', options: initOptions(findFunction(fn), { field: 'v' }) });

describe('snapshots in slices', () => {
  it('answers another connection while 40 snapshots of 20,000 groups are built, each of one moment', async () => {
    const big = await UdfClient.connect(path.join(dir, 'rate.sock'));
    const groups = 20_000;
    big.sendRaw(
      Buffer.concat([
        encodeRequest(init('rate')),
        ...Array.from({ length: groups }, (_, i) => encodeRequest({ kind: 'point', point: streamPoint('m', { g: `g${i}` }, 1n, { fieldsInt: { v: 1n } }) })),
      ]),
    );
    big.send({ kind: 'keepalive', time: 1n });
    await big.take(2); // init, keepalive: every group is in
    // 40 snapshot requests and a point of a new group, in one write.
    const n = 40;
    big.sendRaw(
      Buffer.concat([
        ...Array.from({ length: n }, () => encodeRequest({ kind: 'snapshot' })),
        encodeRequest({ kind: 'point', point: streamPoint('m', { g: 'late' }, 1n, { fieldsInt: { v: 1n } }) }),
        encodeRequest({ kind: 'snapshot' }),
      ]),
    );
    const other = await UdfClient.connect(path.join(dir, 'edgeDetect.sock'));
    const [first] = await big.take(1, 60_000);
    other.send({ kind: 'keepalive', time: 9n });
    expect(await other.take(1, 60_000)).toEqual([{ kind: 'keepalive', time: 9n }]);
    expect(built).toBeLessThan(n);
    const before = big.drain().length;
    const rest = await big.take(n - before, 60_000);
    const last = rest[rest.length - 1];
    if (first.kind !== 'snapshot' || last.kind !== 'snapshot') throw new Error('expected snapshots');
    expect(decodeSnapshot(first.snapshot).groups).toHaveLength(groups);
    const lastGroups = decodeSnapshot(last.snapshot).groups;
    expect(lastGroups).toHaveLength(groups + 1);
    expect(lastGroups[groups][0]).toBe('g=late');
    await big.finish(60_000);
    await other.finish();
  }, 120_000);
});
