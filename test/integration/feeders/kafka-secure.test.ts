// The Kafka feeder over TLS + SASL for real: Kafka 3.9's SASL_SSL listener (test CA, SASL PLAIN and SCRAM-SHA-256,
// scripts/stack/start.sh) → the feeder CLI → InfluxDB 2.7 (the writer's v2 form: org, bucket, token from a file),
// read back with Flux. Passwords come from files or the environment and must never show in the feeder's output.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKafkaSecure, influxdb2Setup, type InfluxDB2Setup, type KafkaSecure } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, writeConfig, type FeederProcess } from './helpers.js';
import { createBucket, deleteBucket, fluxPoints, tokenFile } from './influxdb2.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

const TENANT = 'hybrid:4958307';
const T0 = 1523317852949;

let secure: KafkaSecure;
let password: string;
let influx: InfluxDB2Setup;
let token: string;
let kafka: Kafka;
let admin: Admin;
const buckets: string[] = [];
const running: FeederProcess[] = [];

function notification(i: number): string {
  return JSON.stringify({
    tenantId: TENANT,
    entity: { label: `web${String(i).padStart(2, '0')}-prod-a${i % 3}.somecust` },
    check: { label: `cpu_usage--web${i}` },
    alarm: { label: `CPU high--web${i}` },
    details: { timestamp: T0 + i, state: i % 2 ? 'CRITICAL' : 'OK', status: `CPU at ${50 + i}%` },
  });
}

async function newTopicWith(n: number): Promise<string> {
  const topic = uniqueName('maas_secure');
  await createTopics(admin, [{ topic, numPartitions: 2 }]);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: `e${i}`, value: notification(i) })) });
  await producer.disconnect();
  return topic;
}

async function newBucket(): Promise<string> {
  const b = await createBucket(influx, uniqueName('feed_kafka_secure'));
  buckets.push(b);
  return b;
}

/** A feeder config for the SASL_SSL listener; `ssl`/`sasl` are the indented lines of those sections. */
function config(opts: { topic: string; group: string; bucket: string; ssl?: string; sasl: string }): string {
  return writeConfig(`kafka:
  brokers: [${secure.brokers.join(', ')}]
  topic: ${opts.topic}
  groupId: ${opts.group}
  sessionTimeout: 10s
  ssl:
${opts.ssl ?? `    ca: ${secure.caFile}`}
  sasl:
${opts.sasl}
batchSize: 50
influxdb:
  url: ${influx.url}
  org: ${influx.org}
  bucket: ${opts.bucket}
  tokenFile: ${tokenFile(token)}
  flushInterval: 100ms
`);
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): FeederProcess {
  const p = spawnFeeder(args, env);
  running.push(p);
  return p;
}

/** Kills the feeder if it has not exited within MS (a hang is a failure, with its output). */
async function exitedWithin(p: FeederProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

function expectNoSecret(p: FeederProcess, ...secrets: string[]): void {
  const out = p.stdout() + p.stderr();
  for (const s of secrets) {
    expect(s.length).toBeGreaterThan(8);
    expect(out.includes(s), 'a secret appears in the feeder output').toBe(false);
  }
}

beforeAll(async () => {
  buildOnce();
  [secure, influx] = await Promise.all([ensureKafkaSecure(), influxdb2Setup()]);
  password = readFileSync(secure.passwordFile, 'utf8').trim();
  token = influx.token;
  // The test's own client goes through the same SASL_SSL listener.
  kafka = new Kafka({
    clientId: 'feeder-secure-test',
    brokers: secure.brokers,
    ssl: { ca: readFileSync(secure.caFile) },
    sasl: { mechanism: 'plain', username: secure.username, password },
    logLevel: logLevel.ERROR,
  });
  admin = kafka.admin();
  await admin.connect();
}, 600_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const b of buckets) await deleteBucket(influx, b).catch(() => undefined);
  await admin?.disconnect();
});

describe('kafka feeder over SASL_SSL into InfluxDB 2', () => {
  it('SASL PLAIN (password from a file) over TLS with the CA: every message lands in the bucket with its exact time', async () => {
    const N = 20;
    const topic = await newTopicWith(N);
    const group = uniqueName('secure');
    const bucket = await newBucket();
    const cfg = config({
      topic,
      group,
      bucket,
      sasl: `    mechanism: plain\n    username: ${secure.username}\n    passwordFile: ${secure.passwordFile}`,
    });
    const p = run(['kafka', '--config', cfg, '--once']);
    const { code } = await exitedWithin(p, 90_000);
    expect(code, p.stderr()).toBe(0);

    const states = (await fluxPoints(influx, bucket, 'maas_notification')).filter((r) => r.field === 'state');
    expect(states.map((r) => r.ns)).toEqual(Array.from({ length: N }, (_, i) => BigInt(T0 + i) * 1_000_000n));
    expect(states.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => (i % 2 ? 'CRITICAL' : 'OK')));
    expect(states[1].tags).toMatchObject({ tenant: TENANT, node: 'web01', environment: 'prod-a1', customer: 'somecust' });

    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    expect(committed.partitions.map((x) => Number(x.offset)).reduce((a, b) => a + b, 0)).toBe(ends.map((e) => Number(e.high)).reduce((a, b) => a + b, 0));
    expectNoSecret(p, password, token);
  });

  it('SASL SCRAM-SHA-256 (password from the environment) works the same way', async () => {
    const topic = await newTopicWith(5);
    const bucket = await newBucket();
    const cfg = config({
      topic,
      group: uniqueName('secure'),
      bucket,
      sasl: `    mechanism: scram-sha-256\n    username: ${secure.username}\n    passwordEnv: H5_KAFKA_PW`,
    });
    const p = run(['kafka', '--config', cfg, '--once'], { H5_KAFKA_PW: password });
    const { code } = await exitedWithin(p, 90_000);
    expect(code, p.stderr()).toBe(0);
    const states = (await fluxPoints(influx, bucket, 'maas_notification')).filter((r) => r.field === 'state');
    expect(states.map((r) => r.ns)).toEqual(Array.from({ length: 5 }, (_, i) => BigInt(T0 + i) * 1_000_000n));
    expectNoSecret(p, password, token);
  });

  it('a wrong password fails at once with a clear authentication error, exit 1, and the password is not printed', async () => {
    const wrong = `wrong-${uniqueName('pw')}`;
    const bucket = await newBucket();
    const cfg = config({
      topic: uniqueName('maas_secure'),
      group: uniqueName('secure'),
      bucket,
      sasl: `    mechanism: plain\n    username: ${secure.username}\n    passwordEnv: H5_KAFKA_PW`,
    });
    const p = run(['kafka', '--config', cfg, '--once'], { H5_KAFKA_PW: wrong });
    const { code } = await exitedWithin(p, 60_000);
    expect(code, p.stderr()).toBe(1);
    // The last line is the program's own verdict, after the kafkajs log lines.
    expect(p.stderr()).toMatch(
      /^udf-sidecar: Kafka at 127\.0\.0\.1:\d+: SASL PLAIN authentication failed: .*Invalid username or password; check kafka\.sasl\.username and its password \[KAFKA_REFUSED\]$/m,
    );
    expectNoSecret(p, wrong, password, token);
    expect(await fluxPoints(influx, bucket, 'maas_notification')).toEqual([]);
  });

  it('without the test CA the broker certificate is refused (TLS verification is on)', async () => {
    const cfg = config({
      topic: uniqueName('maas_secure'),
      group: uniqueName('secure'),
      bucket: await newBucket(),
      ssl: '    rejectUnauthorized: true',
      sasl: `    mechanism: plain\n    username: ${secure.username}\n    passwordFile: ${secure.passwordFile}`,
    });
    const p = run(['kafka', '--config', cfg, '--once']);
    const { code } = await exitedWithin(p, 90_000);
    expect(code, p.stderr()).toBe(1);
    expect(p.stderr()).toMatch(
      /^udf-sidecar: Kafka at 127\.0\.0\.1:\d+: Connection error: self-signed certificate in certificate chain; check kafka\.ssl\.ca .* \[KAFKA_REFUSED\]$/m,
    );
    expectNoSecret(p, password, token);
  });
});
