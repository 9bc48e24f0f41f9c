/**
 * A Kafka feeder started while Kafka is down (a host reboot, compose starting everything at once) waits for it with
 * backoff and then delivers, instead of exiting after kafkajs' own ~10 s of connection retries.
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureKafka, influxQuery, startService, stopService } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

let brokers: string[];
let influxUrl: string;
let db: string;
let feeder: FeederProcess | undefined;

beforeAll(async () => {
  buildOnce();
  const [k, i] = await Promise.all([ensureKafka(), ensureInfluxDB()]);
  brokers = k.brokers;
  influxUrl = i.url;
  db = uniqueName('feed_kafka_start');
  await createDatabase(db);
});

afterAll(async () => {
  if (feeder && feeder.child.exitCode === null) feeder.child.kill('SIGKILL');
  // The next file expects Kafka up.
  await startService('kafka');
  await dropDatabase(db).catch(() => undefined);
});

async function countPoints(): Promise<number> {
  const series = await influxQuery(db, 'SELECT count(state) FROM maas_notification');
  return series.length === 0 ? 0 : Number(series[0].values[0][1]);
}

describe('kafka feeder started before Kafka', () => {
  it('keeps retrying while Kafka is down, then consumes what is produced once it is up', async () => {
    const topic = uniqueName('maas_start');
    const kafka = new Kafka({ clientId: 'feeder-start-test', brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();
    await stopService('kafka');

    const config = writeConfig(`kafka:
  brokers: [${brokers.join(', ')}]
  topic: ${topic}
  groupId: ${uniqueName('feeder')}
influxdb:
  url: ${influxUrl}
  database: ${db}
  flushInterval: 100ms
`);
    feeder = spawnFeeder(['kafka', '--config', config]);
    const p = feeder;
    // Two failed starts: the first shows it retries, the second that it outlived kafkajs' own retries.
    await waitFor(
      async () =>
        p
          .stderr()
          .split('\n')
          .filter((l) => l.includes('Kafka not reachable: trying again')).length,
      (n) => n >= 2 || p.child.exitCode !== null,
      120_000,
      'two start retries',
    );
    expect(p.child.exitCode, p.stderr()).toBeNull();
    const retryLine = JSON.parse(
      p
        .stderr()
        .split('\n')
        .find((l) => l.includes('Kafka not reachable'))!,
    );
    expect(retryLine.error).toContain(`Kafka at ${brokers.join(',')}`);
    // kafkajs' own log lines carry no stack trace.
    expect(p.stderr()).not.toContain('"stack"');

    await startService('kafka');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const N = 20;
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: N }, (_, i) => ({
        value: JSON.stringify({
          tenantId: 'hybrid:1',
          entity: { label: `web${i}-prod-a1.cust` },
          check: { label: 'cpu' },
          alarm: { label: 'cpu high' },
          details: { timestamp: 1523317852949 + i, state: 'CRITICAL', status: 'high' },
        }),
      })),
    });
    await producer.disconnect();

    expect(await waitFor(countPoints, (n) => n >= N, 180_000, `${N} points`)).toBe(N);
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);
  });
});
