import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureKafka, influxQuery } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

// Write order with several chunks in flight, against real Kafka and InfluxDB: a relay in front of InfluxDB holds the
// first write back. A partition's chunks are written in offset order, each after the one before it was answered (a
// stream task subscribed to InfluxDB sees the points in that order), so while the first is held nothing more of the
// partition is written and nothing is committed; once it is accepted, everything is.

const T0 = 1700000000000;
let brokers: string[];
let influxUrl: string;
let kafka: Kafka;
let admin: Admin;
const databases: string[] = [];
const running: FeederProcess[] = [];

/** Passes every request on to InfluxDB, except the first write, which it keeps until `release()`. */
async function holdingRelay(target: string) {
  let writes = 0;
  let accepted = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const isWrite = req.url?.startsWith('/api/v2/write') ?? false;
      if (isWrite && writes++ === 0) await released;
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'content-encoding', 'authorization']) if (req.headers[h]) headers[h] = String(req.headers[h]);
      const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
      if (isWrite && answer.status === 204) accepted++;
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Write requests received, the held one included. */
    seen: () => writes,
    /** Writes InfluxDB accepted (the held one counts once it is let through and accepted). */
    accepted: () => accepted,
    release: () => release(),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

async function committed(group: string, topic: string): Promise<number> {
  const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Number(c.partitions[0]?.offset ?? -1);
}

beforeAll(async () => {
  buildOnce();
  const [k, i] = await Promise.all([ensureKafka(), ensureInfluxDB()]);
  brokers = k.brokers;
  influxUrl = i.url;
  kafka = new Kafka({ clientId: 'kafka-order-test', brokers, logLevel: logLevel.ERROR });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await admin?.disconnect();
  for (const db of databases) await dropDatabase(db).catch(() => undefined);
});

describe('kafka feeder: chunks in flight', () => {
  it("writes a partition's chunks in offset order: nothing after a held chunk is written or committed until it is accepted", async () => {
    const N = 400;
    const topic = uniqueName('maas_order');
    const group = uniqueName('feeder');
    const db = uniqueName('feed_order');
    await createDatabase(db);
    databases.push(db);
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer();
    await producer.connect();
    const body = (i: number) =>
      JSON.stringify({
        tenantId: 'hybrid:1',
        entity: { label: 'node0-prod.order' },
        check: { label: 'cpu--x' },
        alarm: { label: 'high--x' },
        details: { timestamp: T0 + i, state: 'CRITICAL', status: `id-${i}` },
      });
    await producer.send({ topic, acks: -1, messages: Array.from({ length: N }, (_, i) => ({ value: body(i) })) });
    await producer.disconnect();

    const relay = await holdingRelay(influxUrl);
    try {
      // One chunk per write request (batchSize 50 on both sides), several of them out at once.
      const config = writeConfig(`kafka:
  brokers: [${brokers.join(', ')}]
  topic: ${topic}
  groupId: ${group}
batchSize: 50
chunksInFlight: 8
influxdb:
  url: ${relay.url}
  database: ${db}
  retentionPolicy: autogen
  batchSize: 50
  maxInFlight: 4
  flushInterval: 50ms
  timeout: 2m
`);
      const p = spawnFeeder(['kafka', '--config', config]);
      running.push(p);
      await waitFor(
        async () => relay.seen(),
        (n) => n >= 1,
        60_000,
        'the first write, held back',
      );
      // Sampled for a while: a later chunk written, or any offset committed, would show here.
      const samples: { writes: number; committed: number }[] = [];
      for (let i = 0; i < 10; i++) {
        samples.push({ writes: relay.seen(), committed: await committed(group, topic) });
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(
        samples.every((s) => s.writes === 1 && s.committed <= 0),
        JSON.stringify(samples),
      ).toBe(true);
      expect(relay.accepted()).toBe(0);

      relay.release();
      await waitFor(
        () => committed(group, topic),
        (c) => c === N,
        60_000,
        'every offset committed once the first chunk is accepted',
      );
      const all = await influxQuery(db, 'SELECT count(state) FROM maas_notification');
      expect(Number(all[0].values[0][1])).toBe(N);
      p.child.kill('SIGTERM');
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(0);
    } finally {
      relay.release();
      await relay.close();
    }
  });
});
