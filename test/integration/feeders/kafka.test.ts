import { Kafka, logLevel, Partitioners, type Admin, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureKafka, influxQuery, startService, stopService } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

const TENANT = 'hybrid:4958307';
const T0 = 1523317852949;

let brokers: string[];
let influxUrl: string;
let kafka: Kafka;
let admin: Admin;
const databases: string[] = [];
const running: FeederProcess[] = [];

function notification(i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenantId: TENANT,
    entity: { label: `web${String(i % 40).padStart(2, '0')}-prod-a${i % 3}.somecust` },
    check: { label: `cpu_usage--web${i % 40}` },
    alarm: { label: `CPU high--web${i % 40}` },
    details: { timestamp: T0 + i, state: i % 7 === 0 ? 'OK' : 'CRITICAL', status: `CPU at ${50 + (i % 50)}%` },
    ...overrides,
  };
}

function message(i: number, body: unknown, headers?: Record<string, string>): Message {
  return { key: `entity-${i % 40}`, value: typeof body === 'string' ? body : JSON.stringify(body), headers };
}

async function produce(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();
}

function logLines(p: FeederProcess): Array<Record<string, any>> {
  return p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

async function countPoints(db: string, where = ''): Promise<number> {
  const series = await influxQuery(db, `SELECT count(state) FROM maas_notification ${where}`);
  return series.length === 0 ? 0 : Number(series[0].values[0][1]);
}

/** Committed offset and end of each partition: equal everywhere means every message was committed. */
async function offsets(group: string, topic: string): Promise<{ committed: number[]; high: number[] }> {
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  const byPartition = (p: number) => Number(committed.partitions.find((x) => x.partition === p)?.offset ?? -1);
  return { committed: ends.map((e) => byPartition(e.partition)), high: ends.map((e) => Number(e.high)) };
}

function config(opts: { topic: string; group: string; db: string; extra?: string }): string {
  return writeConfig(`kafka:
  brokers: [${brokers.join(', ')}]
  topic: ${opts.topic}
  groupId: ${opts.group}
  sessionTimeout: 10s
batchSize: 50
statusInterval: 2s
tenants: ["${TENANT}"]
influxdb:
  url: ${influxUrl}
  database: ${opts.db}
  retentionPolicy: autogen
  flushInterval: 100ms
  minRetryDelay: 300ms
  maxRetryDelay: 2s
  maxRetries: 1000
  maxRetryTime: 10m
${opts.extra ?? ''}`);
}

async function newTopic(partitions: number): Promise<string> {
  const topic = uniqueName('maas_notifications');
  await createTopics(admin, [{ topic, numPartitions: partitions }]);
  return topic;
}

async function newDatabase(): Promise<string> {
  const db = uniqueName('feed_kafka');
  await createDatabase(db);
  databases.push(db);
  return db;
}

beforeAll(async () => {
  buildOnce();
  const [k, i] = await Promise.all([ensureKafka(), ensureInfluxDB()]);
  brokers = k.brokers;
  influxUrl = i.url;
  kafka = new Kafka({ clientId: 'feeder-test', brokers, logLevel: logLevel.ERROR });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  // A test that stopped InfluxDB must not leave it stopped for the next file.
  await startService('influxdb');
  for (const db of databases) await dropDatabase(db).catch(() => undefined);
  await admin?.disconnect();
});

describe('kafka feeder against real Kafka and InfluxDB', () => {
  it('summarises, filters by tenant (header first), dead-letters what it cannot parse, and commits everything', async () => {
    const topic = await newTopic(3);
    const group = uniqueName('feeder');
    const db = await newDatabase();
    const valid = Array.from({ length: 30 }, (_, i) => message(i, notification(i), i % 2 ? { tenantId: TENANT } : undefined));
    const otherTenant = [
      message(100, notification(100, { tenantId: 'hybrid:1' }), { tenantId: 'hybrid:1' }),
      message(101, 'not even json', { tenantId: 'hybrid:1' }), // filtered by header without being parsed
      message(102, notification(102, { tenantId: 'hybrid:1' })),
    ];
    const broken = [message(200, '{"tenantId": "hybrid:4958307", '), message(201, { ...notification(201), details: { timestamp: T0 } })];
    const oddLabel = message(300, notification(300, { entity: { label: 'standalone' } }));
    await produce(topic, [...valid, ...otherTenant, ...broken, oddLabel]);

    const p = spawnFeeder(['kafka', '--config', config({ topic, group, db }), '--once']);
    running.push(p);
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);

    expect(await countPoints(db)).toBe(valid.length + 1);
    expect(await countPoints(db, `WHERE label_parse = 'failed'`)).toBe(1);
    const [tags] = await influxQuery(db, `SELECT state, environment, node FROM maas_notification WHERE time = ${BigInt(T0 + 1) * 1_000_000n}`);
    expect(tags.values[0].slice(1)).toEqual(['CRITICAL', 'prod-a1', 'web01']);

    const dlq: Array<{ reason: string; offset: string }> = [];
    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: `${topic}.dlq`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message: m }) => {
        dlq.push({ reason: String(m.headers?.['dlq-reason']), offset: String(m.headers?.['dlq-source-offset']) });
      },
    });
    await waitFor(
      async () => dlq.length,
      (n) => n >= broken.length,
      30_000,
      'dead letters',
    );
    await consumer.disconnect();
    expect(dlq.map((d) => d.reason.split(':')[0]).sort()).toEqual(['missing_state', 'not_json']);

    const o = await offsets(group, topic);
    expect(o.committed).toEqual(o.high);
    const stopped = p
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'stopped');
    expect(stopped.counters).toMatchObject({ read: valid.length + otherTenant.length + broken.length + 1, droppedBy: { filtered: 3, dead_lettered: 2 } });
  });

  it('loses nothing and duplicates nothing across a SIGKILL and an InfluxDB outage', async () => {
    const N = 3000;
    const topic = await newTopic(3);
    const group = uniqueName('feeder');
    const db = await newDatabase();
    const cfg = config({ topic, group, db });

    // Produce in slices while the feeder runs, so it is killed with messages both behind and ahead of it.
    const producing = (async () => {
      for (let i = 0; i < N; i += 100) {
        await produce(
          topic,
          Array.from({ length: 100 }, (_, j) => message(i + j, notification(i + j))),
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const first = spawnFeeder(['kafka', '--config', cfg]);
    running.push(first);
    const atKill = await waitFor(
      () => countPoints(db),
      (n) => n > 0,
      60_000,
      'the first points',
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect(atKill).toBeLessThan(N);

    await stopService('influxdb');
    await producing;
    const second = spawnFeeder(['kafka', '--config', cfg, '--metrics-port', '0']);
    running.push(second);
    // Long enough for the new member to take the partitions (the dead one's session times out) and fail to write.
    await new Promise((r) => setTimeout(r, 15_000));
    expect(second.child.exitCode, second.stderr()).toBeNull();
    const during = await offsets(group, topic);
    expect(during.committed.reduce((a, b) => a + b, 0)).toBeLessThan(N);
    // Stuck behind InfluxDB, the member's lag in seconds grows on /metrics (the age of its oldest uncommitted message).
    const metricsUrl = await waitFor(
      async () => logLines(second).find((l) => l.message === 'starting')?.metrics as string | undefined,
      Boolean,
      10_000,
      'the metrics URL',
    );
    const lagSeconds = async () =>
      Number(/udf_sidecar_feeder_lag_seconds\{feeder="kafka"\} (\S+)/.exec(await (await fetch(`${metricsUrl}/metrics`)).text())?.[1]);
    await waitFor(lagSeconds, (s) => s > 1, 60_000, 'feeder_lag_seconds above 1 s while InfluxDB is down');

    await startService('influxdb');
    await waitFor(
      () => countPoints(db),
      (n) => n >= N,
      120_000,
      `${N} points`,
    );
    await waitFor(
      () => offsets(group, topic),
      (o) => o.committed.every((c, i) => c === o.high[i]),
      30_000,
      'all offsets committed',
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(await countPoints(db)).toBe(N);
    await waitFor(lagSeconds, (s) => s === 0, 30_000, 'feeder_lag_seconds back to 0 once caught up');

    second.child.kill('SIGTERM');
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    const stopped = second
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'stopped');
    expect(stopped.counters.retried).toBeGreaterThan(0);
    expect(second.stderr()).toContain('kafka status');
  });
});
