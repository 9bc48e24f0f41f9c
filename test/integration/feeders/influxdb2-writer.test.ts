// The writer's v2 form (url, org, bucket, token) against a real InfluxDB 2.7: the Redis feeder CLI with --once writes
// into a bucket, read back through the v2 query API (Flux) with exact ns times.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRedis, influxdb2Setup, type InfluxDB2Setup } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, writeConfig } from './helpers.js';
import { createBucket, deleteBucket, fluxPoints, tokenFile } from './influxdb2.js';

// A Redis logical database of its own (redis.test.ts uses 11).
const REDIS_DB = 12;

let redis: Redis;
let redisUrl: string;
let influx: InfluxDB2Setup;
const buckets: string[] = [];

beforeAll(async () => {
  buildOnce();
  const [r, i] = await Promise.all([ensureRedis(), influxdb2Setup()]);
  redisUrl = `redis://${r.host}:${r.port}/${REDIS_DB}`;
  influx = i;
  redis = new Redis(redisUrl);
  await redis.flushdb();
}, 600_000);

afterAll(async () => {
  await redis?.flushdb();
  redis?.disconnect();
  for (const b of buckets) await deleteBucket(influx, b).catch(() => undefined);
});

describe('InfluxDB writer, v2 form, against InfluxDB 2.7', () => {
  it('feed redis --once writes to org/bucket with a token from a file; Flux reads the points back with exact ns times', async () => {
    const bucket = await createBucket(influx, uniqueName('feed_v2'));
    buckets.push(bucket);
    // Times above 2^53 ns, with sub-second parts that a float round trip of the ns value would not keep.
    await redis.set('h5v2:ahu1', JSON.stringify({ timestamp: 1700000000.25, temp: 21.5, mode: 'auto' }));
    await redis.set('h5v2:ahu2', JSON.stringify({ timestamp: 1700000001.5, temp: 19, mode: 'off' }));
    await redis.set('h5v2:ahu3', JSON.stringify({ timestamp: 1700000002, temp: -3.25, mode: 'heat' }));
    const cfg = writeConfig(`redis:
  url: ${redisUrl}
influxdb:
  url: ${influx.url}
  org: ${influx.org}
  bucket: ${bucket}
  tokenFile: ${tokenFile(influx.token)}
  flushInterval: 100ms
families:
  - name: probe
    shape: document
    match: "h5v2:*"
    measurement: v2_probe
    keyPattern: '^h5v2:(?<device>[^:]+)$'
`);
    const p = spawnFeeder(['redis', '--config', cfg, '--once']);
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);
    expect(p.stdout() + p.stderr()).not.toContain(influx.token);
    const stopped = p
      .stderr()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'stopped');
    expect(stopped.counters).toMatchObject({ read: 3, written: 3, rejected: 0, dropped: 0 });

    const rows = await fluxPoints(influx, bucket, 'v2_probe');
    expect(rows.map((r) => [r.ns, r.tags.device, r.field, r.value])).toEqual([
      [1700000000250000000n, 'ahu1', 'mode', 'auto'],
      [1700000000250000000n, 'ahu1', 'temp', '21.5'],
      [1700000001500000000n, 'ahu2', 'mode', 'off'],
      [1700000001500000000n, 'ahu2', 'temp', '19'],
      [1700000002000000000n, 'ahu3', 'mode', 'heat'],
      [1700000002000000000n, 'ahu3', 'temp', '-3.25'],
    ]);
  });

  it('an unknown token is refused (401, counted as rejected, nothing written, exit 1), and the token is not printed', async () => {
    const bucket = await createBucket(influx, uniqueName('feed_v2'));
    buckets.push(bucket);
    await redis.flushdb();
    await redis.set('h5v2:ahu1', JSON.stringify({ timestamp: 1700000000.25, temp: 21.5 }));
    const bogus = `bogus-token-${uniqueName('t')}`;
    const cfg = writeConfig(`redis:
  url: ${redisUrl}
influxdb:
  url: ${influx.url}
  org: ${influx.org}
  bucket: ${bucket}
  tokenFile: ${tokenFile(bogus)}
  flushInterval: 100ms
families:
  - name: probe
    match: "h5v2:*"
    measurement: v2_probe
`);
    const p = spawnFeeder(['redis', '--config', cfg, '--once']);
    const { code } = await p.exited;
    expect(code, 'a one-shot run whose points were refused fails').toBe(1);
    expect(p.stdout() + p.stderr()).not.toContain(bogus);
    const refused = p
      .stderr()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'InfluxDB refused a batch');
    expect(refused, p.stderr()).toMatchObject({ status: 401, lines: 1 });
    const stopped = p
      .stderr()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'stopped');
    expect(stopped.counters).toMatchObject({ read: 1, written: 0, rejected: 1 });
    expect(p.stderr()).toContain('udf-sidecar: 1 point(s) read but not written to InfluxDB: 1 refused by InfluxDB');
    expect(await fluxPoints(influx, bucket, 'v2_probe')).toEqual([]);
  });
});
