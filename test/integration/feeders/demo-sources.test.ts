/**
 * The compose demo's sources against real Redis and Kafka, read by the feeders on docker/config's own files (addresses
 * overridden the way a container's env would): `simulate redis` and `simulate kafka` write what `feed … --once` turns
 * into points, so `docker compose up` has data from its first minute. And the feeders' health checks against the real
 * InfluxDB 1.8 and 2.7 and Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInfluxPing } from '../../../src/feeders/health.js';
import { ensureInfluxDB, ensureInfluxDB2, ensureKafka, ensureRedis, freePort } from '../stack.js';
import { buildOnce, CLI_ENTRY, ROOT, spawnFeeder, uniqueName, waitFor, writeConfig } from './helpers.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

function simulate(args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI_ENTRY, 'simulate', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, stderr: () => err };
}

beforeAll(() => buildOnce(), 240_000);

describe('demo sources', () => {
  it('simulate redis writes the MOC keys that feed redis on docker/config/redis.yaml turns into points', async () => {
    const { host, port } = await ensureRedis();
    const url = `redis://${host}:${port}/13`;
    const sim = simulate(['redis', '--url', url, '--every', '1s']);
    await waitFor(
      async () => sim.stderr(),
      (e) => e.includes('"moc keys written"'),
      30_000,
      'the first pass of moc keys',
    );
    const feeder = spawnFeeder(['redis', '--config', join(ROOT, 'docker/config/redis.yaml'), '--stdout', '--once'], {
      REDIS_URL: url,
      FEEDERS_INFLUXDB_TOKEN: 'unused',
    });
    const { code } = await feeder.exited;
    expect(code, feeder.stderr()).toBe(0);
    const measurements = new Set(
      feeder
        .stdout()
        .trim()
        .split('\n')
        .map((l) => l.split(/[, ]/)[0]),
    );
    expect(feeder.stdout().trim().split('\n').length).toBeGreaterThan(1000);
    expect(measurements.size).toBeGreaterThan(3);
  });

  it('simulate kafka produces notifications that feed kafka on docker/config/kafka.yaml summarizes', async () => {
    const { brokers } = await ensureKafka();
    const topic = uniqueName('demo_notifications');
    const sim = simulate(['kafka', '--brokers', brokers.join(','), '--topic', topic, '--every', '200ms']);
    await waitFor(
      async () => sim.stderr(),
      (e) => e.includes('"notifications produced"'),
      60_000,
      'the first notification',
    );
    await new Promise((r) => setTimeout(r, 1500)); // a few more, of every state
    const feeder = spawnFeeder(['kafka', '--config', join(ROOT, 'docker/config/kafka.yaml'), '--stdout', '--once'], {
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('demo'),
      FEEDERS_INFLUXDB_TOKEN: 'unused',
    });
    const { code } = await feeder.exited;
    expect(code, feeder.stderr()).toBe(0);
    const lines = feeder.stdout().trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^maas_notification,/);
    expect(new Set(lines.map((l) => /state="(\w+)"/.exec(l)?.[1]))).toEqual(new Set(['OK', 'WARNING', 'CRITICAL']));
  }, 120_000);
});

describe('feeder health against the real servers', () => {
  it('InfluxDB 1.8 and 2.7 both answer the /ping check', async () => {
    const [{ url: v1 }, { url: v2 }] = await Promise.all([ensureInfluxDB(), ensureInfluxDB2()]);
    await expect(checkInfluxPing(v1, 5000)).resolves.toBeUndefined();
    await expect(checkInfluxPing(v2, 5000)).resolves.toBeUndefined();
  }, 300_000);

  it('a redis feeder with its Redis and InfluxDB up is live and ready', async () => {
    const [{ host, port }, { url: influx }] = await Promise.all([ensureRedis(), ensureInfluxDB()]);
    const metricsPort = await freePort();
    const config = writeConfig(`redis:\n  url: redis://${host}:${port}/14\ninfluxdb:\n  url: ${influx}\n  database: ${uniqueName('health')}\ninterval: 1s\n`);
    const feeder = spawnFeeder(['redis', '--config', config, '--metrics-port', String(metricsPort)]);
    children.push(feeder.child);
    const ready = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
      (r) => r.status === 200,
      30_000,
      `/readyz 200 (feeder log: ${feeder.stderr()})`,
    );
    expect(ready.body).toMatchObject({ ok: true, targets: { source: { reachable: true }, influxdb: { reachable: true, addresses: [influx] } } });
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
  });
});
