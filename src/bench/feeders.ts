/**
 * `npm run bench:feeders`: the feeders against the real servers of the test stack (scripts/stack, the ports and run dir
 * from the environment, as the integration tests use them), with their baselines measured in the same run, and the
 * feeders section of docs/benchmarks.md.
 *
 * Kafka → InfluxDB: N UMB-shaped notifications (a share another tenant's, a few cut short) are produced once into a
 * topic of 6 partitions. Each run is a fresh consumer group from offset 0 and, for the feeders, a fresh database; the
 * clock runs from spawning the process(es) to the first poll (every 250 ms) that finds the group's committed offsets
 * at the end of every partition. The feeder commits only after InfluxDB accepted a chunk's points, so that is "the last
 * point confirmed". CPU and peak RSS are read from /proc at that moment, before the processes are stopped. Variants,
 * interleaved per repetition: the bare kafkajs consumer (counts only), one feeder, three feeders in one group, and
 * Telegraf (kafka_consumer → influxdb_v2) when scripts/bench/telegraf-build.sh has built it.
 *
 * Redis: K MOC-shaped keys (the generator, copied); one full feeder pass (SCAN per shard, MGET, transform, points
 * written to InfluxDB and confirmed) against a bare SCAN + MGET of the same keys with ioredis, in this process.
 *
 * Every run checks its counts (messages counted, points in InfluxDB, dead letters, keys and values) and the benchmark
 * fails on a wrong one.
 *
 *   npm run bench:feeders [-- --messages 1000000 --reps 3 --redis-keys 100000 --redis-reps 5 --only kafka|redis
 *                            --batch-size 500 --no-telegraf --variants bare,feeder1,feeder3,telegraf
 *                            --out docs/benchmarks.md]   (--out - : print only)
 *   --feeder-node-arg=ARG  (repeatable) a Node option for the feeder processes, e.g. --cpu-prof --cpu-prof-dir=DIR
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { parseConfigText } from '../config.js';
import { createLogger } from '../log.js';
import { FeederCounters, type PointSink } from '../feeders/feeder.js';
import { InfluxWriter, readInfluxConfig } from '../feeders/influx-writer.js';
import type { FeedPoint } from '../feeders/point.js';
import { readRedisConfig } from '../feeders/redis/config.js';
import { RedisFeeder } from '../feeders/redis/feeder.js';
import { applyToRedis } from '../feeders/redis/generator.js';
import { machine as machineBase, median, writeSection } from './common.js';
import { BENCH_TENANT, benchMessage, expectedKafkaCounts, expectedRedisPoints, scaledMoc } from './feeder-workload.js';
import { feederNotes } from './feeder-notes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli.js');
const BARE = path.join(ROOT, 'dist', 'bench', 'bare-consumer.js');
const PARTITIONS = 6;
const RUN_TIMEOUT_MS = 15 * 60_000;
const CLK_TCK = 100;

const ports = {
  influxdb: Number(process.env.INFLUXDB_PORT ?? 18086),
  redis: Number(process.env.REDIS_PORT ?? 16379),
  kafka: Number(process.env.KAFKA_PORT ?? 29092),
};
const influxUrl = `http://127.0.0.1:${ports.influxdb}`;
const brokers = [`127.0.0.1:${ports.kafka}`];

class BenchCheckFailed extends Error {}

function check(ok: boolean, what: string): void {
  if (!ok) throw new BenchCheckFailed(`count check failed: ${what}`);
}

// ---------------------------------------------------------------------------------------------------------------------
// processes

interface Usage {
  cpuS: number;
  rssMiB: number;
}

/** CPU seconds (user + system) and peak RSS of a live process, from /proc. */
function usageOf(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / CLK_TCK, rssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
}

interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2_000_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function stop(p: Proc, what: string): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const kill = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const { code, signal } = await p.exited;
  clearTimeout(kill);
  if (code !== 0) throw new Error(`${what} exited with code ${code} (signal ${signal}):\n${p.stderr().slice(-3000)}`);
}

function stackStart(service: string): void {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/stack/start.sh'), service], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0) throw new Error(`scripts/stack/start.sh ${service} failed:\n${r.stderr}`);
}

// ---------------------------------------------------------------------------------------------------------------------
// InfluxDB 1.8

async function influxQuery(db: string, q: string): Promise<Array<{ values: unknown[][] }>> {
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(q)}`, { method: 'POST' });
  const body = (await res.json()) as { results?: Array<{ series?: Array<{ values: unknown[][] }>; error?: string }>; error?: string };
  const err = body.error ?? body.results?.[0]?.error;
  if (!res.ok || err) throw new Error(`InfluxDB query ${q}: ${err ?? res.status}`);
  return body.results?.[0]?.series ?? [];
}

async function countPoints(db: string, measurement: string, field: string): Promise<number> {
  const s = await influxQuery(db, `SELECT count("${field}") FROM "${measurement}"`);
  return s.length === 0 ? 0 : Number(s[0].values[0][1]);
}

let dbSeq = 0;
async function freshDatabase(prefix: string): Promise<string> {
  const db = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbSeq++}`;
  await influxQuery('', `CREATE DATABASE "${db}"`);
  return db;
}

const dropDatabase = (db: string) => influxQuery('', `DROP DATABASE "${db}"`).then(() => undefined);

// ---------------------------------------------------------------------------------------------------------------------
// Kafka

async function produceTopic(admin: Admin, kafka: Kafka, topic: string, total: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
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

async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, string>> {
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

interface KafkaRun {
  msgsPerSec: number;
  cpuS: number;
  /** The largest RSS of the run's processes. */
  rssMiB: number;
  seconds: number;
}

interface KafkaSetup {
  admin: Admin;
  topic: string;
  total: number;
  expected: ReturnType<typeof expectedKafkaCounts>;
  high: Map<number, string>;
  batchSize: number;
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

async function runBare(s: KafkaSetup): Promise<KafkaRun> {
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
statusInterval: 10m
tenants: ["${BENCH_TENANT}"]
influxdb:
  url: ${influxUrl}
  database: ${db}
  retentionPolicy: autogen
  batchSize: ${Math.max(1000, s.batchSize)}
  maxBufferLines: ${Math.max(100_000, 4 * s.batchSize)}
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

async function runFeeders(s: KafkaSetup, members: number): Promise<KafkaRun> {
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
  metric_batch_size = ${Math.max(1000, s.batchSize)}
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

async function runTelegraf(s: KafkaSetup): Promise<KafkaRun> {
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

// ---------------------------------------------------------------------------------------------------------------------
// Redis

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

interface RedisBench {
  keys: number;
  bare: number[];
  passOnly: number[];
  passWritten: number[];
}

async function bareScanMget(redis: Redis, expectKeys: number, expectStrings: number): Promise<number> {
  const t0 = performance.now();
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    for (const k of batch) keys.add(k);
    cursor = next;
  } while (cursor !== '0');
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
  return seconds;
}

async function benchRedis(copies: number, reps: number): Promise<RedisBench> {
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
  const out: RedisBench = { keys: expectKeys, bare: [], passOnly: [], passWritten: [] };
  const passOnly = async (): Promise<number> => {
    const { root } = parseConfigText(`redis:\n  url: ${redisUrl}\n`, 'bench', {});
    const sink = new CountingSink();
    const feeder = new RedisFeeder(readRedisConfig(root), sink, new FeederCounters(), log);
    try {
      const t0 = performance.now();
      const r = await feeder.passAndWrite();
      const seconds = (performance.now() - t0) / 1000;
      check(r.points.length === expectPoints && sink.points === expectPoints, `a feeder pass made ${r.points.length} points, expected ${expectPoints}`);
      return seconds;
    } finally {
      await feeder.close();
    }
  };
  const passWritten = async (): Promise<number> => {
    const db = await freshDatabase('bench_redis');
    const { root } = parseConfigText(
      `redis:\n  url: ${redisUrl}\ninfluxdb:\n  url: ${influxUrl}\n  database: ${db}\n  retentionPolicy: autogen\n  batchSize: 5000\n  maxBufferLines: 200000\n`,
      'bench',
      {},
    );
    const counters = new FeederCounters();
    const { target, tuning } = readInfluxConfig(root.section('influxdb'));
    const sink = new InfluxWriter(target, tuning, counters);
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
      await dropDatabase(db).catch(() => undefined);
    }
  };
  // Warm-up, then interleaved repetitions.
  await bareScanMget(redis, expectKeys, expectStrings);
  await passOnly();
  for (let r = 0; r < reps; r++) {
    out.bare.push(await bareScanMget(redis, expectKeys, expectStrings));
    out.passOnly.push(await passOnly());
    out.passWritten.push(await passWritten());
    process.stderr.write(
      `redis rep ${r + 1}/${reps}: bare ${out.bare.at(-1)!.toFixed(2)} s, pass ${out.passOnly.at(-1)!.toFixed(2)} s, pass+write ${out.passWritten.at(-1)!.toFixed(2)} s\n`,
    );
  }
  await redis.flushdb();
  redis.disconnect();
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// report

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface KafkaRows {
  total: number;
  reps: number;
  batchSize: number;
  runs: Record<string, KafkaRun[]>;
  telegrafNote: string;
}

function kafkaTable(k: KafkaRows): string {
  const bare = median(k.runs.bare.map((r) => r.msgsPerSec));
  const telegraf = k.runs.telegraf?.length ? median(k.runs.telegraf.map((r) => r.msgsPerSec)) : undefined;
  const names: Record<string, string> = {
    bare: 'bare kafkajs consumer (counts only)',
    feeder1: 'feeder, 1 process',
    feeder3: 'feeders, 3 processes in one group',
    telegraf: 'Telegraf kafka_consumer → influxdb_v2',
  };
  const rows = [
    '| run | median msgs/s | (min–max) | median s | CPU s (all processes) | peak RSS MiB | ÷ bare | ÷ Telegraf |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const [key, runs] of Object.entries(k.runs)) {
    if (runs.length === 0) continue;
    const rates = runs.map((r) => r.msgsPerSec);
    const m = median(rates);
    rows.push(
      `| ${names[key]} | ${fmt(m)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(median(runs.map((r) => r.seconds)), 1)} | ${fmt(median(runs.map((r) => r.cpuS)), 1)} | ${fmt(median(runs.map((r) => r.rssMiB)))} | ${key === 'bare' ? '' : fmt(m / bare, 2)} | ${telegraf === undefined || key === 'telegraf' ? '' : fmt(m / telegraf, 2)} |`,
    );
  }
  return rows.join('\n');
}

function kafkaTargets(k: KafkaRows): string[] {
  const m = (key: string) => median(k.runs[key].map((r) => r.msgsPerSec));
  const one = m('feeder1');
  const out = [
    `- ≥ 50,000 msgs/s confirmed with one feeder: ${one >= 50_000 ? 'met' : 'missed'} (${fmt(one)}).`,
    `- ≥ 0.5 × the bare consumer: ${one / m('bare') >= 0.5 ? 'met' : 'missed'} (${fmt(one / m('bare'), 2)}).`,
  ];
  if (k.runs.telegraf?.length) out.push(`- ≥ Telegraf: ${one >= m('telegraf') ? 'met' : 'missed'} (${fmt(one / m('telegraf'), 2)}).`);
  else out.push(`- ≥ Telegraf: not measured (${k.telegrafNote}).`);
  return out;
}

function redisTable(r: RedisBench): string {
  const bare = median(r.bare);
  const row = (name: string, xs: number[]) =>
    `| ${name} | ${fmt(median(xs), 2)} | ${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)} | ${fmt(r.keys / median(xs))} | ${fmt(median(xs) / bare, 2)} |`;
  return [
    '| run | median s per pass | (min–max) | keys/s | ÷ bare |',
    '|---|---:|---|---:|---:|',
    row('bare SCAN + MGET (ioredis)', r.bare),
    row('feeder pass, points counted only', r.passOnly),
    row('feeder pass, points written to InfluxDB and confirmed', r.passWritten),
  ].join('\n');
}

function machine(): string {
  return `${machineBase()}, load average at start ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      reps: { type: 'string', default: '3' },
      'redis-keys': { type: 'string', default: '100000' },
      'redis-reps': { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '500' },
      only: { type: 'string' },
      variants: { type: 'string', default: 'bare,feeder1,feeder3,telegraf' },
      'no-telegraf': { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT, 'docs', 'benchmarks.md') },
      'feeder-node-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  const positive = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} ${v} is not a positive integer`);
    return n;
  };
  const total = positive('messages', values.messages);
  const reps = positive('reps', values.reps);
  const redisKeys = positive('redis-keys', values['redis-keys']);
  const redisReps = positive('redis-reps', values['redis-reps']);
  const batchSize = positive('batch-size', values['batch-size']);
  const only = values.only;
  if (only !== undefined && only !== 'kafka' && only !== 'redis') throw new Error(`--only ${only}: give kafka or redis`);
  const startedAt = new Date();
  const machineLine = machine();
  const loadAtStart = os.loadavg()[0];
  for (const service of ['influxdb', 'redis', 'kafka']) stackStart(service);

  const sections: string[] = [];
  let failed = false;
  if (only !== 'redis') {
    let telegraf: string | undefined;
    let telegrafNote = 'not built';
    if (values['no-telegraf']) telegrafNote = '--no-telegraf';
    else {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts/bench/telegraf-build.sh')], { encoding: 'utf8', timeout: 30 * 60_000 });
      if (r.status === 0 && existsSync(r.stdout.trim())) telegraf = r.stdout.trim();
      else telegrafNote = `scripts/bench/telegraf-build.sh failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
    }
    const kafka = new Kafka({ clientId: 'bench-feeders', brokers, logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `bench_umb_${process.pid}_${Date.now().toString(36)}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-feeders-'));
    try {
      const t0 = performance.now();
      await produceTopic(admin, kafka, topic, total);
      process.stderr.write(`produced ${fmt(total)} messages into ${topic} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      const s: KafkaSetup = {
        admin,
        topic,
        total,
        expected: expectedKafkaCounts(total),
        high: await highWatermarks(admin, topic),
        batchSize,
        feederNodeArgs: values['feeder-node-arg'] ?? [],
        telegraf,
        dir,
      };
      const runs: Record<string, KafkaRun[]> = { bare: [], feeder1: [], feeder3: [], telegraf: [] };
      const variants: Array<[string, () => Promise<KafkaRun>]> = [
        ['bare', () => runBare(s)],
        ['feeder1', () => runFeeders(s, 1)],
        ['feeder3', () => runFeeders(s, 3)],
      ];
      if (telegraf) variants.push(['telegraf', () => runTelegraf(s)]);
      const chosen = String(values.variants).split(',');
      variants.splice(0, variants.length, ...variants.filter(([name]) => chosen.includes(name)));
      for (let r = 0; r < reps; r++) {
        // Rotate the order each repetition so no variant always runs right after the same neighbour.
        for (let v = 0; v < variants.length; v++) {
          const [name, run] = variants[(v + r) % variants.length];
          const m = await run();
          runs[name].push(m);
          process.stderr.write(
            `kafka rep ${r + 1}/${reps} ${name}: ${fmt(m.msgsPerSec)} msgs/s (${m.seconds.toFixed(1)} s, CPU ${m.cpuS.toFixed(1)} s, RSS ${m.rssMiB.toFixed(0)} MiB)\n`,
          );
        }
      }
      const k: KafkaRows = { total, reps, batchSize, runs, telegrafNote: telegraf ? '' : telegrafNote };
      const targets = kafkaTargets(k);
      failed ||= targets.some((t) => t.includes('missed'));
      sections.push(
        `### Kafka → InfluxDB\n\n${fmt(total)} messages (${fmt(s.expected.valid)} valid, ${fmt(s.expected.filtered)} another tenant's, ${fmt(s.expected.unparsable)} unparsable) in ${PARTITIONS} partitions; ${reps} repetitions, interleaved; feeder \`batchSize\` ${batchSize}.\n\n${kafkaTable(k)}\n\n${targets.join('\n')}`,
      );
    } finally {
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
    }
  }
  if (only !== 'kafka') {
    const copies = Math.max(1, Math.round(redisKeys / scaledMoc(1).length));
    const r = await benchRedis(copies, redisReps);
    const ratio = median(r.passWritten) / median(r.bare);
    failed ||= ratio > 1.5;
    sections.push(
      `### Redis → InfluxDB\n\n${fmt(r.keys)} MOC-shaped keys (the generator's building, ${copies} copies), the default families; ${redisReps} repetitions, interleaved.\n\n${redisTable(r)}\n\n- ≤ 1.5 × the bare SCAN + MGET per full pass: ${ratio <= 1.5 ? 'met' : 'missed'} (${fmt(ratio, 2)}).`,
    );
  }
  const body = `Generated by \`npm run bench:feeders\` on ${startedAt.toISOString()}. Do not edit by hand: run it again.\n\nMachine: ${machineLine}.\n\n${sections.join('\n\n')}\n\n${feederNotes(loadAtStart)}`;
  process.stdout.write(`\n${body}\n`);
  if (values.out !== '-') {
    await writeSection(String(values.out), 'feeders', `## Feeders (\`npm run bench:feeders\`)\n\n${body}`);
    process.stdout.write(`\nwrote the feeders section of ${values.out}\n`);
  }
  if (failed) process.stderr.write('bench:feeders: a target was missed (see above)\n');
}

main().catch((err) => {
  process.stderr.write(`bench:feeders: ${err instanceof BenchCheckFailed ? err.message : ((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
