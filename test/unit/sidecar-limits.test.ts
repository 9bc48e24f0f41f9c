/**
 * The built CLI over real Unix sockets, against peers that misbehave: a peer that never closes or never reads, a crowd
 * of connections that never send Init. One bad peer must never take the sidecar, or another task, down.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdfClient } from '../../src/agent/client.js';
import { encodeRequest } from '../../src/agent/codec.js';
import { initOptions, streamPoint } from '../../src/udf/testing.js';
import { findFunction } from '../../src/udf/registry.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does)`);
});

const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** `serve` in a shell, so that a descriptor limit can be set first (`ulimit -n`). */
async function serve(dir: string, extra: string[] = [], fdLimit?: number) {
  const cmd = [process.execPath, cli, 'serve', '--socket-dir', dir, ...extra].map((a) => `'${a}'`).join(' ');
  const child = spawn('bash', ['-c', `${fdLimit ? `ulimit -n ${fdLimit}; ` : ''}exec ${cmd}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const deadline = Date.now() + 15_000;
  while (!err.includes('"ready"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not become ready: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const metricsUrl = (JSON.parse(err.split('\n').find((l) => l.includes('"ready"'))!) as { metrics?: string }).metrics;
  return { child, stderr: () => err, metricsUrl };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

const init = (fn: string, opts: Record<string, string | bigint | boolean>) => ({
  kind: 'init' as const,
  taskId: 'task',
  nodeId: `${fn}2`,
  options: initOptions(findFunction(fn), opts),
});

/** A raw connection that sends nothing (or what it is given) and never reads past the kernel's buffers. */
function rawConnect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socketPath });
    sockets.push(s);
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves once the sidecar has ended or dropped the connection. */
const closedPromise = (s: net.Socket) => new Promise<void>((resolve) => (s.closed || s.readableEnded ? resolve() : s.once('close', () => resolve())));

describe('serve: stopping', () => {
  it('exits 0 on SIGTERM within its grace period although a peer keeps its socket open and another never reads', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const { child, stderr } = await serve(dir);
    // Kapacitor keeps a task's socket open until its keepalive timeout aborts the node: it never half-closes first.
    const open = await UdfClient.connect(path.join(dir, 'edgeDetect.sock'));
    open.send(init('edgeDetect', { field: 'v' }));
    await open.take(1);
    // A peer that reads nothing while its points come back (every point is an edge): our side cannot flush.
    const stuck = await rawConnect(path.join(dir, 'edgeDetect.sock'));
    stuck.pause();
    const points = Array.from({ length: 20_000 }, (_, i) =>
      encodeRequest({
        kind: 'point',
        point: streamPoint('m', { host: 'h' }, BigInt(i), { fieldsInt: { v: BigInt(i) }, fieldsString: { pad: 'x'.repeat(200) } }),
      }),
    );
    stuck.write(Buffer.concat([encodeRequest(init('edgeDetect', { field: 'v' })), ...points]));
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(stderr()).toMatch(/"stopped"/);
  }, 30_000);
});

describe('serve: connection bounds', () => {
  it('keeps accepting task connections under a crowd that never sends Init, past the descriptor limit, and counts what it refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const { child, metricsUrl } = await serve(dir, ['--max-connections', '24', '--init-timeout', '2', '--metrics-port', '0'], 64);
    const sock = path.join(dir, 'rate.sock');
    // More idlers than descriptors: without bounds, accept fails with EMFILE and nothing gets in any more.
    const crowd: net.Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const s = await rawConnect(sock).catch(() => null);
      if (s) crowd.push(s);
    }
    const task = await UdfClient.connect(sock);
    task.send(init('rate', { field: 'n' }));
    expect(await task.take(1)).toEqual([{ kind: 'init', success: true, error: '' }]);
    // The idlers that were let in are closed after --init-timeout; the task connection is not.
    await Promise.all(crowd.map(closedPromise));
    task.send({ kind: 'keepalive', time: 5n });
    expect(await task.take(1)).toEqual([{ kind: 'keepalive', time: 5n }]);
    expect(child.exitCode).toBe(null);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    const refused = (reason: string) =>
      Number(metrics.match(new RegExp(`function_connections_refused_total\\{function="rate",reason="${reason}"\\} (\\d+)`))?.[1] ?? 0);
    expect(refused('limit') + refused('crowded') + refused('accept')).toBeGreaterThan(0);
    expect(refused('idle')).toBeGreaterThan(0);
    expect(await task.finish()).toEqual([]);
  }, 60_000);
});
