// Smoke test of the real-server stack: each server really works through the helpers of ./stack.ts.
// Run alone: npx vitest run --project integration test/integration/stack.test.ts
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import {
  createDatabase,
  dropDatabase,
  ensureInfluxDB,
  ensureKafka,
  ensureRedis,
  freePort,
  influxQuery,
  influxWriteLP,
  influxdb2Setup,
  isServiceRunning,
  parseJsonBigInt,
  startKapacitord,
  startService,
  stopService,
} from './stack.js';
import { createTopics } from '../../src/feeders/kafka/client.js';

describe('stack: InfluxDB 1.8', () => {
  it('round-trips a point with a ns timestamp above 2^53 exactly, and keeps data across stop/start', async () => {
    const { url } = await ensureInfluxDB();
    const ping = await fetch(`${url}/ping`);
    expect(ping.status).toBe(204);
    expect(ping.headers.get('x-influxdb-version')).toMatch(/^1\.8\./);

    const db = `stack_smoke_${process.pid}`;
    await dropDatabase(db);
    await createDatabase(db);
    const t = 1_700_000_000_123_456_789n; // > 2^53, not representable as a double
    const big = 9_007_199_254_740_993n; // 2^53 + 1, as an int field
    await influxWriteLP(db, '', [`cpu,host=a usage=1.5,count=${big}i,ok=true,msg="hi" ${t}`]);
    const series = await influxQuery(db, 'SELECT * FROM cpu');
    expect(series).toHaveLength(1);
    const s = series[0]!;
    expect(s.name).toBe('cpu');
    const row = Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]]));
    expect(row.time).toBe(t);
    expect(row.count).toBe(big);
    expect(row.usage).toBe(1.5);
    expect(row.ok).toBe(true);
    expect(row.msg).toBe('hi');
    expect(row.host).toBe('a');

    // The v2 compatibility write endpoint (token user:password, bucket db/rp).
    const res = await fetch(`${url}/api/v2/write?bucket=${db}/autogen&precision=ns`, {
      method: 'POST',
      headers: { Authorization: 'Token user:password' },
      body: `cpu,host=b usage=2 ${t + 1n}`,
    });
    expect(res.status).toBe(204);

    // Down and back up: the data survive.
    await stopService('influxdb');
    expect(isServiceRunning('influxdb')).toBe(false);
    await expect(fetch(`${url}/ping`)).rejects.toThrow();
    await startService('influxdb');
    const after = await influxQuery(db, 'SELECT usage FROM cpu');
    expect(after[0]!.values.map((v) => v[0])).toEqual([t, t + 1n]);
    await dropDatabase(db);
  });

  it('parses JSON keeping unsafe integers exact', () => {
    expect(parseJsonBigInt('{"a":[1,-2.5e3,"x\\"y",null,true,18446744073709551615]}')).toEqual({
      a: [1, -2500, 'x"y', null, true, 18446744073709551615n],
    });
  });
});

describe('stack: InfluxDB 2.7', () => {
  it('is set up (org, bucket, token) and accepts a token-authenticated write', async () => {
    const setup = await influxdb2Setup();
    expect(setup.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${setup.url}/health`)).json()) as { status: string; version: string };
    expect(health.status).toBe('pass');
    expect(health.version).toMatch(/^2\.7\./);
    const res = await fetch(`${setup.url}/api/v2/write?org=${encodeURIComponent(setup.org)}&bucket=${encodeURIComponent(setup.bucket)}&precision=ns`, {
      method: 'POST',
      headers: { Authorization: `Token ${setup.token}` },
      body: 'stack_smoke v=1i 1700000000000000001',
    });
    expect(res.status).toBe(204);
  });
});

describe('stack: Redis', () => {
  it('SET/GET via ioredis', async () => {
    const { host, port } = await ensureRedis();
    const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await redis.set('stack:smoke', 'v1', 'EX', 60);
      expect(await redis.get('stack:smoke')).toBe('v1');
      expect((await redis.info('server')).match(/redis_version:(\S+)/)?.[1]).toMatch(/^\d+\./);
    } finally {
      redis.disconnect();
    }
  });
});

describe('stack: Kafka', () => {
  it('creates a topic, produces and consumes via kafkajs', async () => {
    const { brokers } = await ensureKafka();
    const kafka = new Kafka({ clientId: 'stack-smoke', brokers, logLevel: logLevel.NOTHING });
    const topic = `stack-smoke-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await createTopics(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }])).toBe(true);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'k', value: 'hello' },
        { key: 'k', value: 'world' },
      ],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed only ${JSON.stringify(got)}`)), 60_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(message.value!.toString());
            if (got.length === 2) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      expect(got).toEqual(['hello', 'world']);
    } finally {
      await consumer.disconnect();
    }
  });
});

describe('stack: Kapacitor', () => {
  it('kapacitord starts with an empty udf section, answers ping, and the CLI lists tasks', async () => {
    const k = await startKapacitord({ name: 'smoke', udfConf: '[udf]\n', port: await freePort() });
    try {
      const ping = await fetch(`${k.url}/kapacitor/v1/ping`);
      expect(ping.status).toBe(204);
      expect(ping.headers.get('x-kapacitor-version')).toBeTruthy();
      const r = await k.cli(['list', 'tasks']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ID\s+Type\s+Status/);
    } finally {
      await k.stop();
    }
    await expect(fetch(`${k.url}/kapacitor/v1/ping`)).rejects.toThrow();
  });

  it('refuses at once when a UDF socket in udfConf is not listening', async () => {
    const udfConf = '[udf]\n[udf.functions.nope]\n  socket = "/tmp/udf-sidecar-stack-no-such.sock"\n  timeout = "10s"\n';
    await expect(startKapacitord({ name: 'nosocket', udfConf, port: await freePort() })).rejects.toThrow(/not listening/);
  });

  it('receives InfluxDB writes through a subscription', async () => {
    await ensureInfluxDB();
    const db = `stack_sub_${process.pid}`;
    await dropDatabase(db);
    await createDatabase(db);
    const k = await startKapacitord({ name: 'subscription', udfConf: '', influxdb: true, port: await freePort() });
    try {
      const subs = await influxQuery('', 'SHOW SUBSCRIPTIONS');
      const mine = subs.find((s) => s.name === db);
      expect(mine?.values[0]?.[mine.columns.indexOf('destinations')]).toEqual([k.url]);
      const tick = `stream|from().measurement('m')|httpOut('out')`;
      const f = path.join(k.dir, 'sub_smoke.tick');
      await writeFile(f, tick);
      const def = await k.cli(['define', 'sub_smoke', '-type', 'stream', '-dbrp', `${db}.autogen`, '-tick', f]);
      expect(def.stderr + def.stdout).toBe('');
      expect(def.code).toBe(0);
      expect((await k.cli(['enable', 'sub_smoke'])).code).toBe(0);
      const t = 1_700_000_000_000_000_001n;
      let out: unknown;
      for (let i = 0; i < 100; i++) {
        await influxWriteLP(db, '', `m,host=a v=42i ${t}`);
        const res = await fetch(`${k.url}/kapacitor/v1/tasks/sub_smoke/out`);
        out = await res.json();
        if ((out as { series?: unknown[] }).series?.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(JSON.stringify(out)).toContain('"v"');
      expect(JSON.stringify(out)).toContain('42');
    } finally {
      await k.stop();
      await dropDatabase(db);
    }
    const left = await influxQuery('', 'SHOW SUBSCRIPTIONS');
    expect(JSON.stringify(left)).not.toContain(k.url);
  });
});
