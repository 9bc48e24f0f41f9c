/**
 * bench:feeders, Kafka → InfluxDB: the topic produced once, then each variant from offset 0 in a fresh consumer group
 * (and, for the feeders and Telegraf, a fresh database), timed to the group's commits reaching the end of the topic.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { BENCH_TENANT, benchMessage, type expectedKafkaCounts } from './feeder-workload.js';
import { brokers, check, countPoints, dropDatabase, freshDatabase, influxUrl, type Proc, ROOT, start, stop, usageOf } from './feeders-stack.js';
import { createTopics } from '../feeders/kafka/client.js';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const BARE = path.join(ROOT, 'dist', 'bench', 'bare-consumer.js');
export const PARTITIONS = 6;
const RUN_TIMEOUT_MS = 15 * 60_000;

export async function produceTopic(admin: Admin, kafka: Kafka, topic: string, total: number): Promise<void> {
  await createTopics(admin, [{ topic, numPartitions: PARTITIONS }]);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // ~400 messages of ~1.2 KB per partition and request: under the broker's 1 MB message.max.bytes per record batch.
  const SLICE = 2400;
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; i += SLICE) {
    const messages = [];
    for (let j = i; j < Math.min(total, i + SLICE); j++) {
      const m = benchMessage(j, PARTITIONS);
      messages.push({ partition: m.partition, key: m.key, value: m.value, headers: m.headers });
    }
    const sent = producer.send({ topic, messages, acks: -1 });
    sent.catch(() => undefined); // awaited below; this keeps a failure from being an unhandled rejection meanwhile
    inFlight.push(sent);
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  const ends = await admin.fetchTopicOffsets(topic);
  check(ends.reduce((a, o) => a + Number(o.high), 0) === total, `topic ${topic} holds ${total} messages`);
}

export async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, string>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
}

/** Resolves with the time when the group's committed offsets reached `high` on every partition. */
async function untilCommitted(admin: Admin, group: string, topic: string, high: Map<number, string>, procs: Proc[]): Promise<number> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const done = offsets.partitions.every((p) => p.offset === high.get(p.partition)) && offsets.partitions.length === high.size;
    if (done) return performance.now();
    for (const p of procs) {
      if (p.child.exitCode !== null)
        throw new Error(`a process of group ${group} exited (code ${p.child.exitCode}) before the end:\n${p.stderr().slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`group ${group} did not commit to the end of ${topic} within ${RUN_TIMEOUT_MS / 60_000} min`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface KafkaRun {
  msgsPerSec: number;
  cpuS: number;
  /** The largest RSS of the run's processes. */
  rssMiB: number;
  seconds: number;
}

export interface KafkaSetup {
  admin: Admin;
  topic: string;
  total: number;
  expected: ReturnType<typeof expectedKafkaCounts>;
  high: Map<number, string>;
  batchSize: number;
  /** The feeder's chunksInFlight, and the writer's batchSize (lines per request) for feeders and Telegraf. */
  chunksInFlight: number;
  influxBatchSize: number;
  feederNodeArgs: string[];
  telegraf?: string;
  dir: string;
}

let groupSeq = 0;
const newGroup = (what: string) => `bench_${what}_${process.pid}_${groupSeq++}`;

async function timed(s: KafkaSetup, group: string, procs: Proc[], t0: number): Promise<KafkaRun> {
  const t1 = await untilCommitted(s.admin, group, s.topic, s.high, procs);
  const usages = procs.map((p) => usageOf(p.child.pid!));
  const seconds = (t1 - t0) / 1000;
  return {
    seconds,
    msgsPerSec: s.total / seconds,
    cpuS: usages.reduce((a, u) => a + u.cpuS, 0),
    rssMiB: Math.max(...usages.map((u) => u.rssMiB)),
  };
}

export async function runBare(s: KafkaSetup): Promise<KafkaRun> {
  const group = newGroup('bare');
  const t0 = performance.now();
  const p = start(process.execPath, [BARE, brokers.join(','), s.topic, group]);
  const run = await timed(s, group, [p], t0);
  await stop(p, 'bare consumer');
  const { count } = JSON.parse(p.stdout().trim().split('\n').pop() ?? '{}') as { count?: number };
  check(count === s.total, `the bare consumer counted ${count} of ${s.total} messages`);
  return run;
}

function feederConfig(s: KafkaSetup, group: string, db: string): string {
  const file = path.join(s.dir, `${group}.yaml`);
  writeFileSync(
    file,
    `kafka:
  brokers: [${brokers.join(', ')}]
  topic: ${s.topic}
  groupId: ${group}
  sessionTimeout: 30s
batchSize: ${s.batchSize}
chunksInFlight: ${s.chunksInFlight}
statusInterval: 10m
tenants: ["${BENCH_TENANT}"]
influxdb:
  url: ${influxUrl}
  database: ${db}
  retentionPolicy: autogen
  batchSize: ${s.influxBatchSize}
  maxBufferLines: ${Math.max(100_000, 4 * s.batchSize * s.chunksInFlight)}
  flushInterval: 100ms
`,
  );
  return file;
}

interface Stopped {
  counters: { read: number; written: number; droppedBy: Record<string, number> };
}

function stoppedCounters(p: Proc): Stopped['counters'] {
  for (const line of p.stderr().trim().split('\n').reverse()) {
    if (!line.includes('"stopped"')) continue;
    const parsed = JSON.parse(line) as { message?: string } & Partial<Stopped>;
    if (parsed.message === 'stopped' && parsed.counters) return parsed.counters;
  }
  throw new Error(`a feeder printed no "stopped" line:\n${p.stderr().slice(-3000)}`);
}

async function deadLetters(s: KafkaSetup): Promise<number> {
  const topics = await s.admin.listTopics();
  if (!topics.includes(`${s.topic}.dlq`)) return 0;
  return (await s.admin.fetchTopicOffsets(`${s.topic}.dlq`)).reduce((a, o) => a + Number(o.high), 0);
}

export async function runFeeders(s: KafkaSetup, members: number): Promise<KafkaRun> {
  const group = newGroup(`feeder${members}`);
  const db = await freshDatabase('bench_feed');
  try {
    const config = feederConfig(s, group, db);
    const dlqBefore = await deadLetters(s);
    const t0 = performance.now();
    const procs = Array.from({ length: members }, () => start(process.execPath, [...s.feederNodeArgs, CLI, 'feed', 'kafka', '--config', config]));
    const run = await timed(s, group, procs, t0);
    for (const p of procs) await stop(p, 'feeder');
    const counters = procs.map(stoppedCounters);
    const sum = (f: (c: Stopped['counters']) => number) => counters.reduce((a, c) => a + f(c), 0);
    // One member reads every message once; members of a group that rebalances may read a chunk again (at least once).
    const exact = members === 1;
    const read = sum((c) => c.read);
    check(exact ? read === s.total : read >= s.total, `${members} feeder(s) read ${read} of ${s.total} messages`);
    const filtered = sum((c) => c.droppedBy.filtered ?? 0);
    check(exact ? filtered === s.expected.filtered : filtered >= s.expected.filtered, `filtered ${filtered}, expected ${s.expected.filtered}`);
    const dead = (await deadLetters(s)) - dlqBefore;
    check(exact ? dead === s.expected.unparsable : dead >= s.expected.unparsable, `dead letters ${dead}, expected ${s.expected.unparsable}`);
    const points = await countPoints(db, 'maas_notification', 'state');
    check(points === s.expected.valid, `InfluxDB holds ${points} points, expected ${s.expected.valid}`);
    const lost = sum((c) => (c.droppedBy.retries_exhausted ?? 0) + (c.droppedBy.buffer_full ?? 0) + (c.droppedBy.shutdown ?? 0));
    check(lost === 0, `${lost} points given up by the writer`);
    return run;
  } finally {
    await dropDatabase(db).catch(() => undefined);
  }
}

function telegrafConfig(s: KafkaSetup, group: string, db: string): string {
  const file = path.join(s.dir, `${group}.toml`);
  // The operator's equivalent of the feeder's summary: the same tags and fields read with json_v2, the tenant kept
  // by tagpass (Telegraf parses every message to read it), delivery-tracked offsets (committed after the output wrote).
  writeFileSync(
    file,
    `[agent]
  interval = "10s"
  flush_interval = "100ms"
  metric_batch_size = ${s.influxBatchSize}
  metric_buffer_limit = 100000
  omit_hostname = true
  quiet = true

[[inputs.kafka_consumer]]
  brokers = ${JSON.stringify(brokers)}
  topics = ["${s.topic}"]
  consumer_group = "${group}"
  offset = "oldest"
  max_undelivered_messages = 10000
  data_format = "json_v2"
  [[inputs.kafka_consumer.json_v2]]
    measurement_name = "maas_notification"
    timestamp_path = "details.timestamp"
    timestamp_format = "unix_ms"
    [[inputs.kafka_consumer.json_v2.tag]]
      path = "tenantId"
      rename = "tenant"
    [[inputs.kafka_consumer.json_v2.tag]]
      path = "entity.label"
      rename = "entity_label"
    [[inputs.kafka_consumer.json_v2.tag]]
      path = "check.label"
      rename = "check"
    [[inputs.kafka_consumer.json_v2.tag]]
      path = "alarm.label"
      rename = "alarm"
    [[inputs.kafka_consumer.json_v2.field]]
      path = "details.state"
      rename = "state"
      type = "string"
    [[inputs.kafka_consumer.json_v2.field]]
      path = "details.status"
      rename = "status"
      type = "string"
  [inputs.kafka_consumer.tagpass]
    tenant = ["${BENCH_TENANT}"]

[[outputs.influxdb_v2]]
  urls = ["${influxUrl}"]
  token = ""
  organization = ""
  bucket = "${db}/autogen"
`,
  );
  return file;
}

export async function runTelegraf(s: KafkaSetup): Promise<KafkaRun> {
  const group = newGroup('telegraf');
  const db = await freshDatabase('bench_telegraf');
  try {
    const config = telegrafConfig(s, group, db);
    const t0 = performance.now();
    const p = start(s.telegraf!, ['--config', config]);
    const run = await timed(s, group, [p], t0);
    await stop(p, 'telegraf');
    const points = await countPoints(db, 'maas_notification', 'state');
    check(points === s.expected.valid, `Telegraf: InfluxDB holds ${points} points, expected ${s.expected.valid}`);
    return run;
  } finally {
    await dropDatabase(db).catch(() => undefined);
  }
}
