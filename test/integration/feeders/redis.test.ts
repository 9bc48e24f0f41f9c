import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config.js';
import { FeederCounters } from '../../../src/feeders/feeder.js';
import { readInfluxConfig } from '../../../src/feeders/influx-config.js';
import { InfluxWriter } from '../../../src/feeders/influx-writer.js';
import { compileFamily, DEFAULT_FAMILIES, readRedisConfig } from '../../../src/feeders/redis/config.js';
import { RedisFeeder } from '../../../src/feeders/redis/feeder.js';
import { fetchValues, redisGlobToRegExp, scanUnits } from '../../../src/feeders/redis/keyspace.js';
import { applyToRedis, generateMoc, type GeneratedKey } from '../../../src/feeders/redis/generator.js';
import { createLogger } from '../../../src/log.js';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureRedis, influxQuery, startService, stopService } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig } from './helpers.js';

// A Redis logical database of its own, so the default SCAN patterns see only what this file seeds.
const REDIS_DB = 11;
const TS = 1468249200;
const log = createLogger('redis-test');

let redis: Redis;
let redisUrl: string;
let influxUrl: string;
const db = uniqueName('feed_redis');

async function count(measurement: string, field: string, where = ''): Promise<number> {
  const series = await influxQuery(db, `SELECT count("${field}") FROM "${measurement}" ${where}`);
  return series.length === 0 ? 0 : Number(series[0].values[0][1]);
}

const usable = (keys: GeneratedKey[], family: string) => keys.filter((k) => k.family === family && (k.kind === 'valid' || k.kind === 'no_timestamp'));
const compileDefaults = () => DEFAULT_FAMILIES.map((f, i) => compileFamily(f, `default families[${i}]`));
const ofKind = (keys: GeneratedKey[], kind: string) => keys.filter((k) => k.kind === kind).length;

function makeFeeder(counters = new FeederCounters()) {
  const { root } = parseConfigText(
    `redis:\n  url: ${redisUrl}\ninfluxdb:\n  url: ${influxUrl}\n  database: ${db}\n  retentionPolicy: autogen\n  flushInterval: 200ms\n`,
    'redis-test.yaml',
    {},
  );
  const { target, tuning } = readInfluxConfig(root.section('influxdb'));
  const writer = new InfluxWriter(target, tuning, counters, { log });
  return { feeder: new RedisFeeder(readRedisConfig(root), writer, counters, log), writer, counters };
}

beforeAll(async () => {
  const [{ host, port }, influx] = await Promise.all([ensureRedis(), ensureInfluxDB()]);
  redisUrl = `redis://${host}:${port}/${REDIS_DB}`;
  influxUrl = influx.url;
  redis = new Redis(redisUrl);
  // The outage test stops Redis under this client; it reconnects by itself.
  redis.on('error', () => undefined);
  await redis.flushdb();
  await createDatabase(db);
});

afterAll(async () => {
  // A test that stopped Redis must not leave it stopped for the next file.
  await startService('redis');
  await redis?.flushdb();
  redis?.disconnect();
  await dropDatabase(db).catch(() => undefined);
});

describe('redis feeder against real Redis and InfluxDB', () => {
  it('tells a vanished key from one that is not a string', async () => {
    await redis.set('probe:string', '{"a":1}');
    await redis.hset('probe:hash', { a: '1' });
    const got = await fetchValues(redis, ['probe:string', 'probe:gone', 'probe:hash'], 2, 2);
    expect(got.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'probe:gone', kind: 'vanished' },
      { key: 'probe:hash', kind: 'not_string', type: 'hash' },
      { key: 'probe:string', kind: 'string', value: '{"a":1}' },
    ]);
    await redis.del('probe:string', 'probe:hash');
  });

  it("one SCAN sorts keys into patterns exactly as Redis's own MATCH does", async () => {
    const keys = generateMoc({ pass: 0, timestamp: TS }).map((k) => k.key);
    const odd = ['glob:a*b', 'glob:a?b', 'glob:[x]', 'glob:a\\b', 'glob:ab', 'glob:a-b', 'glob:a^b', 'glob:z', 'glob:]', 'glob:_'];
    await redis.mset(Object.fromEntries([...keys, ...odd].map((k) => [k, '1'])));
    const patterns = [
      ...compileDefaults().flatMap((f) => f.shards),
      'electrical:busplug:R[1-3]-P[^B]-*:JSON',
      'mechanical:irc:R?-PA-IRC0[13]:JSON',
      'glob:a\\*b',
      'glob:a\\?b',
      'glob:\\[x\\]',
      'glob:a\\\\b',
      'glob:a[b-]b',
      'glob:a[-b]b',
      'glob:[^a-y]',
      'glob:[z-a]',
      'glob:[]]',
      'glob:*',
      'status:*',
    ];
    const families = patterns.map((p, i) => ({ ...compileDefaults()[0], name: `f${i}`, shards: [p] }));
    try {
      const units = await scanUnits(redis, families, 100, () => true);
      for (const [i, pattern] of patterns.entries()) {
        const byRedis = new Set<string>();
        let cursor = '0';
        do {
          const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          for (const k of batch) byRedis.add(k);
          cursor = next;
        } while (cursor !== '0');
        expect(units[i].keys, pattern).toEqual([...byRedis].sort());
        expect(
          [...byRedis].every((k) => redisGlobToRegExp(pattern).test(k)),
          pattern,
        ).toBe(true);
      }
    } finally {
      await redis.flushdb();
    }
  });

  it('writes every usable key of the MOC layout, scaled, with source times, and counts the rest', async () => {
    const keys = generateMoc({ pass: 0, timestamp: TS });
    await applyToRedis(redis, keys);
    expect(await redis.dbsize()).toBe(keys.length);
    const { feeder, writer, counters } = makeFeeder();
    const pass = await feeder.passAndWrite();
    await writer.close();

    expect(pass.byFamily.busplug.points).toBe(usable(keys, 'busplug').length);
    expect(await count('electrical_busplug', 'active_power')).toBe(usable(keys, 'busplug').length);
    expect(await count('mechanical_irc', 'leaving_fluid_temp')).toBe(usable(keys, 'irc').length);
    expect(await count('mechanical_airhand', 'value')).toBe(usable(keys, 'airhand').length);
    expect(await count('electrical_generator', 'total_fuel_consumption')).toBe(usable(keys, 'generator').length);
    const wattKeys = usable(keys, 'meter').filter((k) => k.key.endsWith(':watts'));
    expect(await count('electrical_meter', 'watts')).toBe(wattKeys.length);

    // Power factor stored ×1000 comes out as a fraction, never the old integer-division zero.
    const [pf] = await influxQuery(db, 'SELECT min(power_factor), max(power_factor) FROM electrical_busplug');
    expect(Number(pf.values[0][1])).toBeGreaterThan(0.5);
    expect(Number(pf.values[0][2])).toBeLessThanOrEqual(1);
    // Times are tags nowhere; the source time is the point time (the float one to the quarter second).
    const tagKeys = (await influxQuery(db, 'SHOW TAG KEYS')).flatMap((s) => s.values.map((v) => String(v[0])));
    expect(tagKeys).not.toContain('timestamp');
    const [exact] = await influxQuery(db, `SELECT active_power FROM electrical_busplug WHERE rack = 'C12' AND row = 'R3' AND plug = 'A2'`);
    expect(exact.values[0][0]).toBe(BigInt(TS) * 1_000_000_000n + 250_000_000n);
    const [fallback] = await influxQuery(db, 'SELECT active_power, time_fallback FROM electrical_busplug WHERE time_fallback = true');
    expect(fallback.values).toHaveLength(ofKind(keys, 'no_timestamp'));
    expect(fallback.values[0][0] as bigint).toBeGreaterThan(BigInt(Date.now() - 600_000) * 1_000_000n);

    const stats = counters.stats();
    expect(stats.read).toBe(keys.length);
    expect(stats.droppedBy.not_json).toBe(ofKind(keys, 'not_json'));
    expect(stats.droppedBy.not_string).toBe(ofKind(keys, 'hash'));
    expect(stats.droppedBy.missing_field).toBe(ofKind(keys, 'missing_field'));
    expect(stats.written).toBe(pass.points.length);
  });

  it('follows keys that appear and disappear between passes', async () => {
    const first = generateMoc({ pass: 0, timestamp: TS });
    const second = generateMoc({ pass: 1, timestamp: TS + 60 });
    await applyToRedis(redis, first);
    await applyToRedis(redis, second, first);
    const { feeder, writer } = makeFeeder();
    await feeder.passAndWrite();
    await writer.close();
    const t2 = `WHERE time >= ${BigInt(TS + 60) * 1_000_000_000n} AND time < ${BigInt(TS + 61) * 1_000_000_000n}`;
    expect(await count('electrical_busplug', 'active_power', t2)).toBe(usable(second, 'busplug').filter((k) => k.kind === 'valid').length);
    const gone = first.filter((k) => !second.some((s) => s.key === k.key));
    const came = second.filter((k) => !first.some((f) => f.key === k.key));
    expect(gone.length).toBeGreaterThan(0);
    expect(came.length).toBeGreaterThan(0);
    const [m] = came[0].key.match(/R\d-P[A-C]-C\d+:[AB]\d/) ?? [];
    const [row, pod, rackPlug] = m!.split('-');
    const [rack, plug] = rackPlug.split(':');
    const [s] = await influxQuery(
      db,
      `SELECT count(active_power) FROM electrical_busplug WHERE row='${row}' AND pod='${pod}' AND rack='${rack}' AND plug='${plug}' ${t2.replace('WHERE', 'AND')}`,
    );
    expect(Number(s.values[0][1])).toBe(1);
  });

  it('survives keys vanishing while a pass runs', async () => {
    const keys = generateMoc({ pass: 0, timestamp: TS + 120 });
    await applyToRedis(redis, keys);
    const churn = keys.filter((k) => k.family === 'busplug' && k.kind === 'valid').slice(0, 200);
    let stop = false;
    const flapper = (async () => {
      const r = new Redis(redisUrl);
      while (!stop) {
        await r.del(...churn.map((k) => k.key));
        await applyToRedis(r, churn);
      }
      r.disconnect();
    })();
    const { feeder, writer, counters } = makeFeeder();
    for (let i = 0; i < 5; i++) await feeder.passAndWrite();
    stop = true;
    await flapper;
    await writer.close();
    const stats = counters.stats();
    expect(stats.read).toBeGreaterThan(0);
    // Every key listed is accounted for: written, or dropped with a reason (vanished among them, never a crash).
    const dropped = Object.values(stats.droppedBy).reduce((a, b) => a + b, 0);
    expect(stats.written + dropped).toBe(stats.read);
  });

  it('runs as a command: --once --stdout prints line protocol, a bad config exits 2 naming the key', async () => {
    buildOnce();
    const keys = generateMoc({ pass: 0, timestamp: TS });
    await redis.flushdb();
    await applyToRedis(redis, keys);
    const config = writeConfig(`redis:\n  url: ${redisUrl}\ninterval: 1m\n`);
    const p = spawnFeeder(['redis', '--config', config, '--once', '--stdout']);
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);
    const lines = p.stdout().trim().split('\n');
    const expected = keys.filter((k) => k.kind === 'valid' || k.kind === 'no_timestamp').length;
    expect(lines).toHaveLength(expected);
    expect(lines.filter((l) => l.startsWith('electrical_busplug,'))).toHaveLength(usable(keys, 'busplug').length);
    // stderr carries JSON log lines only; stdout carries data only.
    for (const l of p.stderr().trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();

    const bad = writeConfig(`redis:\n  url: ${redisUrl}\ninterval: soon\n`);
    const b = spawnFeeder(['redis', '--config', bad, '--once', '--stdout']);
    expect((await b.exited).code).toBe(2);
    expect(b.stderr()).toContain(`${bad}: interval`);
  });

  it('keeps running while Redis is down and resumes when it is back; counters on /metrics', async () => {
    buildOnce();
    const keys = generateMoc({ pass: 0, timestamp: TS });
    await redis.flushdb();
    await applyToRedis(redis, keys);
    const config = writeConfig(`redis:\n  url: ${redisUrl}\ninterval: 1s\ninfluxdb:\n  url: ${influxUrl}\n  database: ${db}\n  retentionPolicy: autogen\n`);
    const p = spawnFeeder(['redis', '--config', config, '--metrics-port', '0']);
    const passes = () =>
      p
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"redis pass done"')).length;
    const failures = () =>
      p
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"redis pass failed"')).length;
    try {
      await waitFor(
        async () => passes(),
        (n) => n >= 1,
        30_000,
        'a first pass',
      );
      await stopService('redis');
      await waitFor(
        async () => failures(),
        (n) => n >= 2,
        30_000,
        'passes failing while Redis is down',
      );
      expect(p.child.exitCode, p.stderr()).toBeNull();
      await startService('redis');
      // Redis runs without persistence: seed again, as the building system would.
      await redis.flushdb();
      await applyToRedis(redis, keys);
      const before = passes();
      await waitFor(
        async () => passes(),
        (n) => n >= before + 2,
        30_000,
        'passes after Redis came back',
      );

      const starting = JSON.parse(
        p
          .stderr()
          .split('\n')
          .find((l) => l.includes('"starting"'))!,
      );
      const text = await (await fetch(`${starting.metrics}/metrics`)).text();
      const read = text.split('\n').find((l) => /^\w*feeder\w*read\w*\{feeder="redis"\}/.test(l));
      expect(read, text).toBeDefined();
      expect(Number(read!.split(' ').pop())).toBeGreaterThanOrEqual(2 * keys.length);
    } finally {
      p.child.kill('SIGTERM');
    }
    expect((await p.exited).code, p.stderr()).toBe(0);
  });
});
