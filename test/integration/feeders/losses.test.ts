// A point read and not accepted by InfluxDB is a loss: counted, logged, and a non-zero exit (docs/feeders.md, exit
// codes). The feeder CLI, as built, against real Redis; InfluxDB real for the happy path, and "InfluxDB down" as
// nothing listening on the port or a small loopback HTTP server that answers 503 to every write.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyToRedis, generateMoc, type GeneratedKey } from '../../../src/feeders/redis/generator.js';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureRedis, freePort, influxQuery } from '../stack.js';
import { buildOnce, spawnFeeder, unavailableInflux as unavailable, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';

const REDIS_DB = 13;
const TS = 1468249200;

let redis: Redis;
let redisUrl: string;
let influxUrl: string;
let keys: GeneratedKey[];
const db = uniqueName('feed_losses');
const running: FeederProcess[] = [];

/** Points the Redis feeder makes from the generated keys: the valid ones and the one without a timestamp. */
const usable = () => keys.filter((k) => k.kind === 'valid' || k.kind === 'no_timestamp').length;

function lines(p: FeederProcess): Array<Record<string, any>> {
  return p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

const stoppedCounters = (p: FeederProcess) => lines(p).find((l) => l.message === 'stopped')?.counters;

/** The writer's default retry policy; only the request timeout is shortened (it bounds the last attempt at stop). */
function redisConfig(url: string): string {
  return writeConfig(`redis:
  url: ${redisUrl}
interval: 1m
influxdb:
  url: ${url}
  database: ${db}
  retentionPolicy: autogen
  flushInterval: 100ms
  timeout: 2s
`);
}

async function run(args: string[]): Promise<{ p: FeederProcess; code: number | null }> {
  const p = spawnFeeder(args);
  running.push(p);
  const { code } = await p.exited;
  return { p, code };
}

beforeAll(async () => {
  buildOnce();
  const [r, i] = await Promise.all([ensureRedis(), ensureInfluxDB()]);
  redisUrl = `redis://${r.host}:${r.port}/${REDIS_DB}`;
  influxUrl = i.url;
  redis = new Redis(redisUrl);
  await redis.flushdb();
  keys = generateMoc({ pass: 0, timestamp: TS });
  await applyToRedis(redis, keys);
  await createDatabase(db);
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await redis?.flushdb();
  redis?.disconnect();
  await dropDatabase(db).catch(() => undefined);
});

describe('points InfluxDB did not accept are losses', () => {
  it('feed redis --once into a real InfluxDB: every point written, exit 0', async () => {
    const { p, code } = await run(['redis', '--config', redisConfig(influxUrl), '--once']);
    expect(code, p.stderr()).toBe(0);
    const [s] = await influxQuery(db, 'SELECT count(active_power) FROM electrical_busplug');
    expect(Number(s.values[0][1])).toBe(keys.filter((k) => k.family === 'busplug' && (k.kind === 'valid' || k.kind === 'no_timestamp')).length);
    expect(stoppedCounters(p)).toMatchObject({ read: keys.length, written: usable(), rejected: 0 });
  });

  it('feed redis --once with InfluxDB unreachable: every point counted and logged as lost, exit 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { p, code } = await run(['redis', '--config', redisConfig(closed), '--once']);
    expect(code, p.stderr()).toBe(1);
    const counters = stoppedCounters(p);
    expect(counters).toMatchObject({ read: keys.length, written: 0, droppedBy: { shutdown: usable() } });
    const logged = lines(p).filter((l) => l.message === 'points lost: InfluxDB did not accept them');
    expect(logged.reduce((n, l) => n + l.lines, 0)).toBe(usable());
    expect(logged[0].why).toMatch(/ECONNREFUSED/);
    expect(p.stderr()).toContain(`udf-sidecar: ${usable()} point(s) read but not written to InfluxDB: ${usable()} given up (shutdown)`);
  });

  it('feed redis --once with InfluxDB answering 503 to every write: lost, exit 1', async () => {
    const down = await unavailable();
    try {
      const { p, code } = await run(['redis', '--config', redisConfig(down.url), '--once']);
      expect(code, p.stderr()).toBe(1);
      expect(stoppedCounters(p)).toMatchObject({ written: 0, droppedBy: { shutdown: usable() } });
      expect(down.requests()).toBeGreaterThan(0);
      expect(p.stderr()).toMatch(/503 Service Unavailable/);
    } finally {
      await down.close();
    }
  });

  it('a feeder stopped by SIGTERM while InfluxDB answers 503 counts what it held as lost (shutdown), exit 1', async () => {
    const down = await unavailable();
    try {
      // The default policy would retry for 5 minutes; SIGTERM ends that after one last attempt.
      const p = spawnFeeder(['redis', '--config', redisConfig(down.url)]);
      running.push(p);
      await waitFor(async () => lines(p).some((l) => l.message === 'InfluxDB did not accept a batch: sending it again'), Boolean, 60_000, 'a failed write');
      p.child.kill('SIGTERM');
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(1);
      expect(stoppedCounters(p)).toMatchObject({ written: 0, droppedBy: { shutdown: usable() } });
      expect(p.stderr()).toContain(`given up (shutdown)`);
    } finally {
      await down.close();
    }
  });

  it('feed router --once where every poll fails reads nothing and exits 1', async () => {
    const port = await freePort();
    const config = writeConfig(`routers:
  - name: gone1
    host: 127.0.0.1
    port: ${port}
    username: nobody
    passwordEnv: HOME
    hostKeyCheck: "off"
  - name: gone2
    host: 127.0.0.1
    port: ${port}
    username: nobody
    passwordEnv: HOME
    hostKeyCheck: "off"
timeout: 3s
influxdb:
  url: ${influxUrl}
  database: ${db}
`);
    const { p, code } = await run(['router', '--config', config, '--once']);
    expect(code, p.stderr()).toBe(1);
    expect(stoppedCounters(p)).toMatchObject({ read: 0, droppedBy: { poll_failed: 2 } });
    expect(p.stderr()).toContain('udf-sidecar: every router poll failed (2 router(s)): nothing was read');
  });
});
