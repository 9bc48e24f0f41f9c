/** bench:feeders, Redis → InfluxDB: a feeder pass over a scaled MOC keyspace against a bare SCAN + MGET of the same keys. */
import { Redis } from 'ioredis';
import { parseConfigText } from '../config.js';
import { FeederCounters, type PointSink } from '../feeders/feeder.js';
import { readInfluxConfig } from '../feeders/influx-config.js';
import { InfluxWriter } from '../feeders/influx-writer.js';
import type { FeedPoint } from '../feeders/point.js';
import { readRedisConfig } from '../feeders/redis/config.js';
import { RedisFeeder } from '../feeders/redis/feeder.js';
import { type Shard, shardOf } from '../feeders/redis/shard.js';
import { applyToRedis } from '../feeders/redis/generator.js';
import { createLogger } from '../log.js';
import { expectedRedisPoints, scaledMoc } from './feeder-workload.js';
import { check, dropDatabase, freshDatabase, influxUrl, ports } from './feeders-stack.js';

/** Counts and keeps nothing: the pass without InfluxDB, to show what reading and transforming cost alone. */
class CountingSink implements PointSink {
  points = 0;
  write(points: FeedPoint[]): void {
    this.points += points.length;
  }
  async writeConfirmed(points: FeedPoint[]): Promise<void> {
    this.write(points);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface RedisBench {
  keys: number;
  bare: number[];
  /** The SCAN alone, inside the bare runs. */
  bareScan: number[];
  passOnly: number[];
  /** One member of three (`--shard 1/3`), points counted only: the whole SCAN, a third of the MGETs. */
  shardOnly: number[];
  passWritten: number[];
}

async function bareScanMget(redis: Redis, expectKeys: number, expectStrings: number): Promise<{ seconds: number; scan: number }> {
  const t0 = performance.now();
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    for (const k of batch) keys.add(k);
    cursor = next;
  } while (cursor !== '0');
  const scan = (performance.now() - t0) / 1000;
  const list = [...keys];
  let strings = 0;
  for (let i = 0; i < list.length; i += 800) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(list.length, i + 800); j += 100) p.mget(...list.slice(j, Math.min(i + 800, j + 100)));
    for (const [err, values] of (await p.exec()) ?? []) {
      if (err) throw err;
      for (const v of values as Array<string | null>) if (v !== null) strings++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  check(keys.size === expectKeys, `bare SCAN listed ${keys.size} keys, expected ${expectKeys}`);
  check(strings === expectStrings, `bare MGET read ${strings} string values, expected ${expectStrings}`);
  return { seconds, scan };
}

export async function benchRedis(copies: number, reps: number): Promise<RedisBench> {
  const redisUrl = `redis://127.0.0.1:${ports.redis}/3`;
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  await redis.flushdb();
  const keys = scaledMoc(copies);
  for (let i = 0; i < keys.length; i += 10_000) await applyToRedis(redis, keys.slice(i, i + 10_000));
  const expectKeys = keys.length;
  const expectStrings = keys.filter((k) => typeof k.value === 'string').length;
  const expectPoints = expectedRedisPoints(keys);
  check((await redis.dbsize()) === expectKeys, `Redis holds ${expectKeys} keys`);

  const log = createLogger('bench-redis', 'error');
  const shardPoints = expectedRedisPoints(keys.filter((k) => shardOf(k.key, 3) === 1));
  const out: RedisBench = { keys: expectKeys, bare: [], bareScan: [], passOnly: [], shardOnly: [], passWritten: [] };
  const passOnly = async (shard?: Shard): Promise<number> => {
    const { root } = parseConfigText(`redis:\n  url: ${redisUrl}\n`, 'bench', {});
    const sink = new CountingSink();
    const feeder = new RedisFeeder(readRedisConfig(root), sink, new FeederCounters(), log, { shard });
    try {
      const t0 = performance.now();
      const r = await feeder.passAndWrite();
      const seconds = (performance.now() - t0) / 1000;
      const expected = shard ? shardPoints : expectPoints;
      check(r.points.length === expected && sink.points === expected, `a feeder pass made ${r.points.length} points, expected ${expected}`);
      return seconds;
    } finally {
      await feeder.close();
    }
  };
  // One database for every written pass, warmed by one: a pass writes into series that exist, as every pass after a
  // feeder's first does (a first pass also creates ~100,000 series).
  const db = await freshDatabase('bench_redis');
  const passWritten = async (): Promise<number> => {
    const { root } = parseConfigText(
      `redis:\n  url: ${redisUrl}\ninfluxdb:\n  url: ${influxUrl}\n  database: ${db}\n  retentionPolicy: autogen\n  batchSize: 5000\n  maxBufferLines: 200000\n`,
      'bench',
      {},
    );
    const counters = new FeederCounters();
    const { target, tuning } = readInfluxConfig(root.section('influxdb'));
    const sink = new InfluxWriter(target, tuning, counters, { log });
    const feeder = new RedisFeeder(readRedisConfig(root), sink, counters, log);
    try {
      const t0 = performance.now();
      await feeder.passAndWrite();
      await sink.flush();
      const seconds = (performance.now() - t0) / 1000;
      const s = counters.stats();
      check(s.written === expectPoints, `InfluxDB accepted ${s.written} points of a pass, expected ${expectPoints}`);
      return seconds;
    } finally {
      await feeder.close();
      await sink.close();
    }
  };
  // Warm-up, then repetitions, the order rotated each time.
  await bareScanMget(redis, expectKeys, expectStrings);
  await passOnly();
  await passWritten();
  const variants: Array<() => Promise<void>> = [
    async () => {
      const b = await bareScanMget(redis, expectKeys, expectStrings);
      out.bare.push(b.seconds);
      out.bareScan.push(b.scan);
    },
    async () => void out.passOnly.push(await passOnly()),
    async () => void out.shardOnly.push(await passOnly({ index: 1, count: 3 })),
    async () => void out.passWritten.push(await passWritten()),
  ];
  for (let r = 0; r < reps; r++) {
    for (let v = 0; v < variants.length; v++) await variants[(v + r) % variants.length]();
    process.stderr.write(
      `redis rep ${r + 1}/${reps}: bare ${out.bare.at(-1)!.toFixed(2)} s (SCAN ${out.bareScan.at(-1)!.toFixed(2)} s), pass ${out.passOnly.at(-1)!.toFixed(2)} s, shard 1/3 ${out.shardOnly.at(-1)!.toFixed(2)} s, pass+write ${out.passWritten.at(-1)!.toFixed(2)} s\n`,
    );
  }
  await dropDatabase(db).catch(() => undefined);
  await redis.flushdb();
  redis.disconnect();
  return out;
}
