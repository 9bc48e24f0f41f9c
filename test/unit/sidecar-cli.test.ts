/**
 * The built CLI over real Unix sockets: `serve` as users start it, driven by the protocol client.
 * (Real kapacitord drives the same sockets in test/integration.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdfClient } from '../../src/agent/client.js';
import { encodeVarint } from '../../src/agent/framer.js';
import { initOptions, streamPoint } from '../../src/udf/testing.js';
import { findFunction } from '../../src/udf/registry.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does)`);
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function serve(dir: string, extra: string[] = []): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--socket-dir', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const deadline = Date.now() + 15_000;
  while (!err.includes('"ready"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not become ready: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stderr: () => err };
}

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return exited(child).then((code) => ({ code, stderr }));
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

describe('udf-sidecar serve', () => {
  it('serves every function on its own socket (mode 0660), logs ready once, and exits 0 on SIGTERM removing them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const { child, stderr } = await serve(dir);
    const names = ['edgeDetect', 'edgeDetectBatch', 'movingAverage', 'movingAverageBatch', 'rate', 'rateBatch'];
    for (const n of names) {
      const st = statSync(path.join(dir, `${n}.sock`));
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o660);
    }
    expect(stderr().match(/"ready"/g)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    for (const n of names) expect(existsSync(path.join(dir, `${n}.sock`))).toBe(false);
  });

  it('runs the ADSL seed through edgeDetect over a socket and ends cleanly on half-close', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    await serve(dir);
    const c = await UdfClient.connect(path.join(dir, 'edgeDetect.sock'));
    c.send({ kind: 'info' }, init('edgeDetect', { field: 'value' }));
    const [info, ok] = await c.take(2);
    expect(info.kind).toBe('info');
    expect(ok).toEqual({ kind: 'init', success: true, error: '' });
    const states = ['SHOWTIME', 'SHOWTIME', 'TRAINING', 'TRAINING', 'SHOWTIME'];
    const t0 = 1514979051065000000n;
    c.send(
      ...states.map((v, i) => ({
        kind: 'point' as const,
        point: streamPoint('adsl_connection', { host: 'r1' }, t0 + BigInt(i) * 90_000_000_000n + 1n, { fieldsString: { value: v } }),
      })),
    );
    const out = await c.take(3);
    expect(out.map((r) => (r.kind === 'point' ? [r.point.time, r.point.fieldsString.value] : r.kind))).toEqual([
      [t0 + 1n, 'SHOWTIME'],
      [t0 + 180_000_000_001n, 'TRAINING'],
      [t0 + 360_000_000_001n, 'SHOWTIME'],
    ]);
    expect(await c.finish()).toEqual([]);
  });

  it('holds the points of a batch larger than many socket reads intact until EndBatch, and re-wraps them exactly', async () => {
    // The sidecar keeps points as views of the bytes they arrived in; a batch's points leave only at EndBatch, many
    // socket chunks later. Every output must still be its input (edgeDetectBatch) or built on it (rateBatch).
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    await serve(dir);
    const n = 4000;
    const t0 = 1514979051065000000n;
    const points = Array.from({ length: n }, (_, i) =>
      streamPoint(
        'adsl',
        { host: 'r1', line: `l-${'x'.repeat(i % 50)}` },
        t0 + BigInt(i) * 1_000_000_007n,
        {
          fieldsString: { value: i % 2 ? 'SHOWTIME' : 'TRAINING' },
          fieldsInt: { bytes: BigInt(i) * 1000n + 2n ** 60n },
        },
        ['host'],
      ),
    );
    const begin = { name: 'adsl', group: 'host=r1', tags: { host: 'r1' }, size: BigInt(n), byName: false };
    const end = { name: 'adsl', group: 'host=r1', tmax: points[n - 1].time, tags: { host: 'r1' }, byName: false };
    const batch = [{ kind: 'begin' as const, begin }, ...points.map((point) => ({ kind: 'point' as const, point })), { kind: 'end' as const, end }];

    const edges = await UdfClient.connect(path.join(dir, 'edgeDetectBatch.sock'));
    edges.send(init('edgeDetectBatch', { field: 'value' }), ...batch);
    const [ok, , ...rest] = await edges.take(n + 3);
    expect(ok).toEqual({ kind: 'init', success: true, error: '' });
    expect(rest.slice(0, n)).toEqual(points.map((point) => ({ kind: 'point', point })));
    expect(rest[n].kind).toBe('end');

    const rates = await UdfClient.connect(path.join(dir, 'rateBatch.sock'));
    rates.send(init('rateBatch', { field: 'bytes' }), ...batch);
    const [, , ...rated] = await rates.take(n + 2);
    expect(rated.slice(0, n - 1)).toEqual(
      points.slice(1).map((p) => ({
        kind: 'point',
        point: { ...p, fieldsDouble: { rate: (1000 * 1e9) / 1_000_000_007 }, fieldsInt: {}, fieldsString: {}, fieldsBool: {} },
      })),
    );
    expect(await edges.finish()).toEqual([]);
    expect(await rates.finish()).toEqual([]);
  });

  it('ends only the connection that sent a malformed frame, with an ErrorResponse', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    await serve(dir, ['--max-frame', '4096']);
    const good = await UdfClient.connect(path.join(dir, 'rate.sock'));
    good.send(init('rate', { field: 'n' }));
    await good.take(1);
    const bad = await UdfClient.connect(path.join(dir, 'rate.sock'));
    bad.sendRaw(Buffer.from(encodeVarint(1_000_000)));
    const [err] = await bad.ended();
    expect(err).toMatchObject({ kind: 'error', error: expect.stringMatching(/exceeds the limit of 4096/) });
    const garbage = await UdfClient.connect(path.join(dir, 'rate.sock'));
    garbage.sendRaw(Buffer.from([3, 0xff, 0xff, 0xff]));
    expect((await garbage.ended())[0]).toMatchObject({ kind: 'error', error: expect.stringMatching(/cannot decode Request/) });
    // The first connection and the process keep working.
    const p = (t: bigint, n: bigint) => ({ kind: 'point' as const, point: streamPoint('m', {}, t, { fieldsInt: { n } }) });
    good.send(p(0n, 0n), p(1_000_000_000n, 42n), { kind: 'keepalive', time: 7n });
    expect(await good.take(2)).toEqual([
      expect.objectContaining({ kind: 'point', point: expect.objectContaining({ fieldsDouble: { rate: 42 } }) }),
      { kind: 'keepalive', time: 7n },
    ]);
  });

  it('replaces a stale socket but refuses a regular file, a directory, and a live socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    // What a SIGKILLed sidecar leaves behind: a socket file nobody listens on.
    const sock = path.join(dir, 'rate.sock');
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`]);
    await new Promise((r) => holder.stdout.once('data', r));
    holder.kill('SIGKILL');
    await exited(holder);
    expect(statSync(sock).isSocket()).toBe(true);
    const { child } = await serve(dir);
    const c = await UdfClient.connect(sock);
    c.send({ kind: 'info' });
    expect((await c.take(1))[0].kind).toBe('info');
    c.destroy();

    const second = await run(['serve', '--socket-dir', dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/edgeDetect\.sock is in use by a running process/);
    child.kill('SIGTERM');
    await exited(child);

    const dir2 = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    writeFileSync(path.join(dir2, 'edgeDetect.sock'), 'precious');
    const file = await run(['serve', '--socket-dir', dir2]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/edgeDetect\.sock exists and is a regular file; refusing to replace it/);
    expect(statSync(path.join(dir2, 'edgeDetect.sock')).isFile()).toBe(true);

    const dir3 = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    mkdirSync(path.join(dir3, 'rate.sock'));
    const d = await run(['serve', '--socket-dir', dir3, '--functions', 'rate']);
    expect(d.stderr).toMatch(/rate\.sock exists and is a directory; refusing to replace it/);
    expect(statSync(path.join(dir3, 'rate.sock')).isDirectory()).toBe(true);
  }, 60_000); // five node processes in turn: ~5 s on the shared machine, no assertion is about time

  it('exposes per-function metrics and a health probe', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const { stderr } = await serve(dir, ['--metrics-port', '0']);
    const url = JSON.parse(
      stderr()
        .split('\n')
        .find((l) => l.includes('"ready"'))!,
    ).metrics as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, sockets: 8 });

    const c = await UdfClient.connect(path.join(dir, 'rate.sock'));
    c.send(init('rate', { field: 'n' }));
    await c.take(1);
    const bad = await UdfClient.connect(path.join(dir, 'rate.sock'));
    bad.send(init('rate', { field: 'n', unit: 0n }));
    expect((await bad.take(1))[0]).toMatchObject({ kind: 'init', success: false });
    const p = (t: bigint, n: bigint) => ({ kind: 'point' as const, point: streamPoint('m', {}, t, { fieldsInt: { n } }) });
    c.send(p(0n, 0n), p(1n, 1n), p(2n, 2n), { kind: 'snapshot' });
    await c.take(3);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/udf_sidecar_function_points_in_total\{function="rate"\} 3/);
    expect(text).toMatch(/udf_sidecar_function_points_out_total\{function="rate"\} 2/);
    expect(text).toMatch(/udf_sidecar_function_connections\{function="rate"\} 2/);
    expect(text).toMatch(/udf_sidecar_function_init_failures_total\{function="rate"\} 1/);
    expect(text).toMatch(/udf_sidecar_function_snapshot_bytes_count\{function="rate"\} 1/);
    expect(text).toMatch(/udf_sidecar_function_points_in_total\{function="edgeDetectBatch"\} 0/);
    c.destroy();
    bad.destroy();
  });

  it('runs a function on stdin/stdout in process mode', async () => {
    const child = spawn(process.execPath, [cli, 'run', 'movingAverage'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const { encodeRequest, decodeResponse } = await import('../../src/agent/codec.js');
    const { FrameDecoder } = await import('../../src/agent/framer.js');
    const got: ReturnType<typeof decodeResponse>[] = [];
    const framer = new FrameDecoder();
    child.stdout!.on('data', (d) => framer.push(d, (f) => got.push(decodeResponse(f))));
    const reqs = [
      init('movingAverage', { field: 'v', size: 2n }),
      ...[1, 3, 5].map((v, i) => ({ kind: 'point' as const, point: streamPoint('m', {}, BigInt(i), { fieldsDouble: { v } }) })),
    ];
    child.stdin!.end(Buffer.concat(reqs.map(encodeRequest)));
    expect(await exited(child)).toBe(0);
    expect(got.map((r) => (r.kind === 'point' ? r.point.fieldsDouble.movingAverage : r.kind))).toEqual(['init', 2, 4]);
  });
});

describe('udf-sidecar serve: sockets that stay ours', () => {
  it('never takes a busy sidecar for a stale one: a full accept backlog (EAGAIN) is a live socket, left alone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const sock = path.join(dir, 'rate.sock');
    // A sidecar that is busy: listening with a backlog of 1 and never getting round to accept().
    const holder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen({ path: ${JSON.stringify(sock)}, backlog: 1 }, () => { console.log('up'); for (;;); })`,
    ]);
    children.push(holder);
    await new Promise((r) => holder.stdout.once('data', r));
    const before = statSync(sock).ino;
    const fill: import('node:net').Socket[] = [];
    let eagain = false;
    for (let i = 0; i < 50 && !eagain; i++) {
      const s = (await import('node:net')).connect(sock);
      fill.push(s);
      eagain = await new Promise<boolean>((r) => {
        s.once('connect', () => r(false));
        s.once('error', (e: NodeJS.ErrnoException) => r(e.code === 'EAGAIN'));
      });
    }
    expect(eagain).toBe(true);
    const second = await run(['serve', '--socket-dir', dir, '--functions', 'rate', '--no-state-dir']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/rate\.sock is in use by a running process/);
    expect(statSync(sock).ino).toBe(before);
    for (const s of fill) s.destroy();
  }, 60_000);

  it('--takeover replaces a live sidecar in place: the path never goes missing, the old one drains, exits 0 and leaves the new sockets', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const sock = path.join(dir, 'edgeDetect.sock');
    const old = await serve(dir, ['--no-state-dir']);
    // A task connection on the old sidecar: it is served until it ends, although the socket is no longer the old one's.
    const task = await UdfClient.connect(sock);
    task.send(init('edgeDetect', { field: 'value' }));
    await task.take(1);
    let probes = 0;
    const errors: string[] = [];
    let probing = true;
    const net = await import('node:net');
    const prober = (async () => {
      while (probing) {
        await new Promise<void>((resolve) => {
          const c = net.connect(sock);
          c.once('connect', () => (c.destroy(), resolve()));
          c.once('error', (e: NodeJS.ErrnoException) => (errors.push(e.code ?? e.message), resolve()));
        });
        probes++;
        await new Promise((r) => setTimeout(r, 2)); // a prober, not a flood (a flood fills any backlog: EAGAIN)
      }
    })();
    const before = statSync(sock).ino;
    const fresh = await serve(dir, ['--no-state-dir', '--takeover']);
    expect(statSync(sock).ino).not.toBe(before);
    // The old sidecar still serves the open connection...
    task.send({ kind: 'point', point: streamPoint('adsl', { host: 'r1' }, 1n, { fieldsString: { value: 'SHOWTIME' } }) });
    expect((await task.take(1))[0].kind).toBe('point');
    // ...until Kapacitor closes it (healing restarts the task), then exits 0.
    await task.finish();
    expect(await exited(old.child)).toBe(0);
    probing = false;
    await prober;
    expect(probes).toBeGreaterThan(10);
    // ENOENT: the path was missing; ECONNREFUSED: it named a socket nobody listened on any more.
    expect(errors.filter((e) => e === 'ENOENT' || e === 'ECONNREFUSED')).toEqual([]);
    expect(old.stderr()).toMatch(/draining: another sidecar took over the sockets/);
    expect(fresh.stderr()).toMatch(/took the sockets over; the previous sidecar drains/);
    // The new sidecar's sockets are all there and answer.
    const c = await UdfClient.connect(sock);
    c.send({ kind: 'info' });
    expect((await c.take(1))[0].kind).toBe('info');
    c.destroy();
    fresh.child.kill('SIGTERM');
    expect(await exited(fresh.child)).toBe(0);
    expect(existsSync(sock)).toBe(false);
  }, 60_000);

  it('SIGHUP (systemd ExecReload) starts a successor that takes over; the old process exits 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    const old = await serve(dir, ['--no-state-dir', '--functions', 'rate']);
    const pidFile = path.join(dir, 'udf-sidecar.pid');
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(old.child.pid);
    old.child.kill('SIGHUP');
    expect(await exited(old.child)).toBe(0);
    const successor = Number(readFileSync(pidFile, 'utf8'));
    expect(successor).not.toBe(old.child.pid);
    try {
      expect(old.stderr()).toMatch(/reload: a successor takes the sockets over/);
      const c = await UdfClient.connect(path.join(dir, 'rate.sock'));
      c.send({ kind: 'info' });
      expect((await c.take(1))[0].kind).toBe('info');
      c.destroy();
    } finally {
      process.kill(successor, 'SIGTERM');
    }
  }, 60_000);
});
