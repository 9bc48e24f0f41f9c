// Several feeders sharing one source, against real Kafka, Redis and InfluxDB:
// - Kafka: 3 feeders in one consumer group over 6 partitions; one SIGKILLed mid-stream and another added. Every
//   message ends as exactly one point (a unique id per message, distinct ids counted, since InfluxDB silently merges
//   duplicates), and at every moment sampled the committed offsets cover only points InfluxDB already holds.
// - Redis: 3 feeders with --shard 1/3, 2/3, 3/3 share the keyspace: no key read twice, none missed.
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyToRedis, generateMoc } from '../../../src/feeders/redis/generator.js';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureKafka, ensureRedis, influxQuery } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

const PARTITIONS = 6;
const T0 = 1700000000000;
const REDIS_DB = 14;

let brokers: string[];
let influxUrl: string;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const databases: string[] = [];
const running: FeederProcess[] = [];

/** The counters a feeder logs with its `stopped` line. */
interface StoppedCounters {
  read: number;
  written: number;
  droppedBy: Record<string, number | undefined>;
}

function logLines(p: FeederProcess): Array<Record<string, any>> {
  return p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** The partitions a feeder owns by its latest `joined the consumer group` line (undefined before it joined). */
function owned(p: FeederProcess): number[] | undefined {
  const joins = logLines(p).filter((l) => l.message === 'joined the consumer group');
  return joins.at(-1)?.partitions;
}

async function newDatabase(prefix: string): Promise<string> {
  const db = uniqueName(prefix);
  await createDatabase(db);
  databases.push(db);
  return db;
}

async function count(db: string, query: string): Promise<number> {
  const series = await influxQuery(db, query);
  return series.length === 0 ? 0 : Number(series[0].values[0][1]);
}

beforeAll(async () => {
  buildOnce();
  const [k, i] = await Promise.all([ensureKafka(), ensureInfluxDB()]);
  brokers = k.brokers;
  influxUrl = i.url;
  kafka = new Kafka({ clientId: 'scale-out-test', brokers, logLevel: logLevel.ERROR });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await producer?.disconnect();
  await admin?.disconnect();
  for (const db of databases) await dropDatabase(db).catch(() => undefined);
});

describe('kafka: several feeders in one consumer group', () => {
  it('3 feeders over 6 partitions, one SIGKILLed mid-stream and one added: every message exactly one point, offsets committed only after InfluxDB accepted', async () => {
    const N = 9000;
    const SLICE = 150;
    const topic = uniqueName('maas_scale');
    const group = uniqueName('feeders');
    const db = await newDatabase('feed_scale');
    await createTopics(admin, [{ topic, numPartitions: PARTITIONS }]);
    const config = writeConfig(`kafka:
  brokers: [${brokers.join(', ')}]
  topic: ${topic}
  groupId: ${group}
  sessionTimeout: 6s
batchSize: 100
statusInterval: 5s
influxdb:
  url: ${influxUrl}
  database: ${db}
  retentionPolicy: autogen
  flushInterval: 100ms
`);
    // Message i goes to partition i % 6, so offset k of partition p is message p + 6k: its node tag says p, its time
    // T0 + i ms orders it, and its status is its unique id.
    const body = (i: number) =>
      JSON.stringify({
        tenantId: 'hybrid:1',
        entity: { label: `node${i % PARTITIONS}-prod.scale` },
        check: { label: 'cpu--x' },
        alarm: { label: 'high--x' },
        details: { timestamp: T0 + i, state: 'CRITICAL', status: `id-${i}` },
      });
    const spawnMember = () => {
      const p = spawnFeeder(['kafka', '--config', config]);
      running.push(p);
      return p;
    };

    const members = [spawnMember(), spawnMember(), spawnMember()];
    await waitFor(
      async () => members.map(owned),
      (o) => o.every((parts) => parts && parts.length > 0) && new Set(o.flat()).size === PARTITIONS,
      60_000,
      'three members sharing the six partitions',
    );

    let produced = 0;
    const producing = (async () => {
      for (let i = 0; i < N; i += SLICE) {
        const messages = Array.from({ length: SLICE }, (_, j) => ({ partition: (i + j) % PARTITIONS, value: body(i + j) }));
        await producer.send({ topic, acks: -1, messages });
        produced = i + SLICE;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // The invariant, sampled all along: for each partition, the committed offset c counts exactly the points of
    // offsets below c in InfluxDB (read the offsets first: points only ever arrive after their commit is read).
    const violations: string[] = [];
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // Metadata can be briefly missing while the group rebalances: that sample is skipped, not the test failed.
        const fetched = await admin.fetchOffsets({ groupId: group, topics: [topic] }).catch(() => null);
        if (fetched === null) {
          await new Promise((r) => setTimeout(r, 300));
          continue;
        }
        const [committed] = fetched;
        for (const { partition, offset } of committed.partitions) {
          const c = Number(offset);
          if (c <= 0) continue;
          const below = await count(
            db,
            `SELECT count(state) FROM maas_notification WHERE node = 'node${partition}' AND time < ${BigInt(T0 + partition + PARTITIONS * c) * 1_000_000n}`,
          );
          if (below !== c) violations.push(`partition ${partition}: committed ${c}, points below it ${below}`);
        }
        samples++;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    await waitFor(
      () => count(db, 'SELECT count(state) FROM maas_notification'),
      (n) => n >= N / 5,
      60_000,
      'a fifth of the points',
    );
    const [victim, ...survivors] = members;
    const victimPartitions = owned(victim)!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited;
    const added = spawnMember();
    const live = [...survivors, added];
    const producedAtKill = produced;

    // Rebalance: until the live members' latest assignments cover the six partitions again, the added one included.
    await waitFor(
      async () => live.map(owned),
      (o) => o.every((parts) => parts && parts.length > 0) && new Set(o.flat()).size === PARTITIONS && o.flat().length === PARTITIONS,
      60_000,
      'the live members sharing the six partitions after the kill',
    );
    const rebalancedMs = Date.now() - killedAt;
    const [committedAtRebalance] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const orphanedOffsets = new Map(committedAtRebalance.partitions.map((p) => [p.partition, Number(p.offset)]));
    await waitFor(
      async () => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions,
      // A partition wholly committed before the rebalance ended (a fast feeder) has nothing left to commit again.
      (parts) =>
        victimPartitions.every((vp) => {
          const offset = Number(parts.find((p) => p.partition === vp)?.offset ?? -1);
          return offset > (orphanedOffsets.get(vp) ?? -1) || offset === N / PARTITIONS;
        }),
      60_000,
      "commits on the killed member's partitions again",
    );
    const resumedMs = Date.now() - killedAt;

    await producing;
    expect(producedAtKill).toBeLessThan(N);
    await waitFor(
      () => count(db, 'SELECT count(state) FROM maas_notification'),
      (n) => n >= N,
      90_000,
      `${N} points`,
    );
    await waitFor(
      async () => {
        const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const ends = await admin.fetchTopicOffsets(topic);
        return ends.every((e) => Number(c.partitions.find((p) => p.partition === e.partition)?.offset) === Number(e.high));
      },
      Boolean,
      60_000,
      'every offset committed',
    );
    sampling = false;
    await sampler;

    expect(await count(db, 'SELECT count(state) FROM maas_notification')).toBe(N);
    expect(await count(db, 'SELECT count(distinct(status)) FROM maas_notification')).toBe(N);
    expect(violations).toEqual([]);
    expect(samples).toBeGreaterThan(3);

    const joins = live.flatMap((p) => logLines(p).filter((l) => l.message === 'joined the consumer group' && Date.parse(l.timestamp) >= killedAt));
    console.log(
      `scale-out: ${N} messages, 6 partitions, 3 members; SIGKILL at ${producedAtKill} produced; ` +
        `partitions ${victimPartitions.join(',')} reassigned after ${rebalancedMs} ms, committed again after ${resumedMs} ms ` +
        `(session timeout 6 s; group joins took ${joins.map((j) => j.rebalanceMs).join(', ')} ms); ${samples} offset/point samples, none ahead of InfluxDB`,
    );

    for (const p of live) p.child.kill('SIGTERM');
    for (const p of live) {
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(0);
    }
    const read = live.reduce((n, p) => n + (logLines(p).find((l) => l.message === 'stopped')?.counters.read ?? 0), 0);
    // The killed member's uncommitted chunk was read again by its successor: reads may exceed N, points never.
    expect(read).toBeGreaterThan(0);
  });
});

describe('redis: --shard i/n', () => {
  it('3 feeders share the keyspace: every key read by exactly one, every point written once', async () => {
    const r = await ensureRedis();
    const redisUrl = `redis://${r.host}:${r.port}/${REDIS_DB}`;
    const redis = new Redis(redisUrl);
    const db = await newDatabase('feed_shard');
    try {
      await redis.flushdb();
      const keys = generateMoc({ pass: 0, timestamp: 1468249200 });
      await applyToRedis(redis, keys);
      const config = writeConfig(
        `redis:\n  url: ${redisUrl}\ninfluxdb:\n  url: ${influxUrl}\n  database: ${db}\n  retentionPolicy: autogen\n  flushInterval: 100ms\n`,
      );
      const feeders = [1, 2, 3].map((i) => {
        const p = spawnFeeder(['redis', '--config', config, '--once', '--shard', `${i}/3`]);
        running.push(p);
        return p;
      });
      const counters: StoppedCounters[] = [];
      for (const p of feeders) {
        const { code } = await p.exited;
        expect(code, p.stderr()).toBe(0);
        counters.push(logLines(p).find((l) => l.message === 'stopped')!.counters);
      }
      const sum = (f: (c: StoppedCounters) => number) => counters.reduce((n, c) => n + f(c), 0);
      const ofKind = (kind: string) => keys.filter((k) => k.kind === kind).length;
      const usable = ofKind('valid') + ofKind('no_timestamp');
      // Each member read a share; the shares add up to the keyspace, and every kind of key is accounted for once.
      for (const c of counters) expect(c.read).toBeGreaterThan(keys.length / 6);
      expect(sum((c) => c.read)).toBe(keys.length);
      expect(sum((c) => c.written)).toBe(usable);
      expect(sum((c) => c.droppedBy.not_json ?? 0)).toBe(ofKind('not_json'));
      expect(sum((c) => c.droppedBy.not_string ?? 0)).toBe(ofKind('hash'));
      expect(sum((c) => c.droppedBy.missing_field ?? 0)).toBe(ofKind('missing_field'));
      const busplugs = keys.filter((k) => k.family === 'busplug' && (k.kind === 'valid' || k.kind === 'no_timestamp')).length;
      expect(await count(db, 'SELECT count(active_power) FROM electrical_busplug')).toBe(busplugs);
      const bad = spawnFeeder(['redis', '--config', config, '--once', '--shard', '4/3']);
      running.push(bad);
      expect((await bad.exited).code).toBe(2); // a usage error (docs/errors.md)
      expect(bad.stderr()).toContain('--shard "4/3": expected i/n with 1 ≤ i ≤ n');
    } finally {
      await redis.flushdb();
      redis.disconnect();
    }
  });
});
