/**
 * The built CLI's feeder health endpoints: `--metrics-host` binds where a Prometheus in another container can scrape,
 * `/healthz` (liveness) fails once the source has been unreachable longer than `--unhealthy-after`, and `/readyz`
 * (readiness) follows the latest check. The source here is a port nothing listens on, then a listener on it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => done(port));
    });
    s.once('error', fail);
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('feed --metrics-port: liveness and readiness', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'udf-health-'));
  let child: ChildProcess | undefined;
  let listener: Server | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds --metrics-host, fails /healthz after --unhealthy-after without its source, and is ready once it answers', async () => {
    const redisPort = await freePort();
    const metricsPort = await freePort();
    const config = path.join(dir, 'redis.yaml');
    writeFileSync(config, `redis:\n  url: redis://127.0.0.1:${redisPort}/0\ninterval: 1s\n`);
    child = spawn(
      process.execPath,
      [cli, 'feed', 'redis', '--config', config, '--stdout', '--metrics-port', String(metricsPort), '--metrics-host', '0.0.0.0', '--unhealthy-after', '1s'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await until('the starting line', async () => (stderr.includes('"starting"') ? true : undefined));
    expect(stderr).toContain(`"metrics":"http://0.0.0.0:${metricsPort}"`);

    const url = `http://127.0.0.1:${metricsPort}`;
    const get = async (p: string) => {
      const res = await fetch(url + p);
      return { status: res.status, body: await res.text() };
    };
    expect(await get('/metrics')).toMatchObject({ status: 200, body: expect.stringContaining('udf_sidecar_feeder_points_read_total{feeder="redis"}') });
    const notReady = await until('a failed readiness check', async () => {
      const r = await get('/readyz');
      return r.body.includes('ECONNREFUSED') ? r : undefined;
    });
    expect(notReady.status).toBe(503);
    const dead = await until('liveness failing', async () => {
      const r = await get('/healthz');
      return r.status === 503 ? r : undefined;
    });
    expect(JSON.parse(dead.body).reason).toMatch(
      new RegExp(`^source unreachable for [\\d.]+ s \\(more than 1 s\\): 127\\.0\\.0\\.1:${redisPort}: ECONNREFUSED$`),
    );

    listener = createServer((s) => s.destroy()).listen(redisPort, '127.0.0.1');
    await once(listener, 'listening');
    await until('readiness back', async () => ((await get('/readyz')).status === 200 ? true : undefined));
    expect((await get('/healthz')).status).toBe(200);
  });

  it('refuses an --unhealthy-after without a unit', async () => {
    const p = spawn(process.execPath, [cli, 'feed', 'redis', '--config', '/nonexistent.yaml', '--unhealthy-after', '60'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    const [code] = await once(p, 'close');
    expect(code).not.toBe(0);
    expect(stderr).toContain('--unhealthy-after 60 is not a duration: write it with a unit, like 2m or 90s');
  });
});
