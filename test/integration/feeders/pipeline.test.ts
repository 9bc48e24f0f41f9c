/**
 * The whole way: router, Kafka and Redis feeders → InfluxDB 1.8 → Kapacitor (InfluxDB subscription) running the
 * project's TICKscripts with the sidecar's UDFs → InfluxDB. The expected output is computed from what the feeders
 * actually stored, with the obvious definitions (a change of state; the mean of the last `size` values).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, tickscriptDir, type Sidecar } from '../sidecar.js';
import { createDatabase, dropDatabase, ensureInfluxDB, ensureKafka, ensureRedis, freePort, influxQuery, startKapacitord, type Kapacitord } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig } from './helpers.js';
import { ensureRouterSim, setRouterMode, type RouterSim } from './sshd.js';
import { createTopics } from '../../../src/feeders/kafka/client.js';

const REDIS_DB = 12;
const input = uniqueName('feeders_in');
const output = uniqueName('feeders_out');
let sidecar: Sidecar;
let k: Kapacitord;
let sim: RouterSim;
let influxUrl: string;
let brokers: string[];
let redisUrl: string;

type Var = { type: 'string' | 'int'; value: string | number };

async function defineTask(id: string, tick: string, vars: Record<string, Var>): Promise<void> {
  const file = path.join(k.dir, `${id}-vars.json`);
  writeFileSync(file, JSON.stringify({ outputDB: { type: 'string', value: output }, ...vars }));
  for (const args of [
    ['define', id, '-tick', path.join(tickscriptDir, tick), '-dbrp', `${input}.autogen`, '-vars', file],
    ['enable', id],
  ]) {
    const r = await k.cli(args);
    if (r.code !== 0) throw new Error(`kapacitor ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  }
}

async function rows(db: string, q: string): Promise<unknown[][]> {
  return (await influxQuery(db, q)).flatMap((s) => s.values);
}

/** The points where the value differs from the one before (the first included): what edgeDetect must emit. */
function changes(points: unknown[][]): unknown[][] {
  return points.filter((p, i) => i === 0 || p[1] !== points[i - 1][1]);
}

/** waitFor, and on time-out the task's own account (`kapacitor show`) and the sidecar's log in the error. */
async function waitForTask(task: string, probe: () => Promise<unknown[][]>, n: number): Promise<unknown[][]> {
  try {
    return await waitFor(probe, (r) => r.length >= n, 40_000, `${n} points from ${task}`);
  } catch (err) {
    const shown = await k.cli(['show', task]);
    throw new Error(`${(err as Error).message}\n${shown.stdout}\nsidecar log:\n${sidecar.log().slice(-2000)}`);
  }
}

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));

beforeAll(async () => {
  buildOnce();
  const [influx, kafka, redis] = await Promise.all([ensureInfluxDB(), ensureKafka(), ensureRedis()]);
  influxUrl = influx.url;
  brokers = kafka.brokers;
  redisUrl = `redis://${redis.host}:${redis.port}/${REDIS_DB}`;
  sim = await ensureRouterSim();
  // Kapacitor subscribes to the databases that exist when it starts.
  await createDatabase(input);
  await createDatabase(output);
  sidecar = await startSidecar(undefined, { udfTimeout: '10s' });
  k = await startKapacitord({ udfConf: sidecar.udfConf, influxdb: true, name: 'feeders-e2e', port: await freePort() });
});

afterAll(async () => {
  await k?.stop();
  await sidecar?.stop();
  for (const db of [input, output]) await dropDatabase(db).catch(() => undefined);
});

const influxSection = () => `influxdb:\n  url: ${influxUrl}\n  database: ${input}\n  retentionPolicy: autogen\n  flushInterval: 100ms\n`;

describe('feeders → InfluxDB → Kapacitor with the sidecar → InfluxDB', () => {
  it('router polls become ADSL state changes (edge_detect.tick)', async () => {
    await defineTask('feeders_adsl_edges', 'edge_detect.tick', {});
    const config = writeConfig(`interval: 5m
timeout: 5s
${influxSection()}routers:
  - name: router1
    host: 127.0.0.1
    port: ${sim.port}
    username: ${sim.user}
    passwordFile: ${sim.passwordFile}
    hostKeySha256: "${sim.hostKeySha256}"
`);
    const modes = ['showtime', 'showtime', 'training', 'training', 'garbled', 'showtime', 'training'];
    for (const mode of modes) {
      setRouterMode(sim, mode);
      const p = spawnFeeder(['router', '--config', config, '--once']);
      expect((await p.exited).code, p.stderr()).toBe(0);
    }
    setRouterMode(sim, 'showtime');
    const stored = await rows(input, `SELECT value FROM adsl_connection WHERE host = 'router1'`);
    expect(stored.map((r) => r[1])).toEqual(['SHOWTIME', 'SHOWTIME', 'TRAINING', 'TRAINING', 'SHOWTIME', 'TRAINING']);
    const expected = changes(stored);
    const got = await waitForTask('feeders_adsl_edges', () => rows(output, 'SELECT value FROM adsl_connection_edges'), expected.length);
    expect(show(got)).toBe(show(expected));
  });

  it('Kafka notification states become state changes (edge_detect.tick on maas_notification.state)', async () => {
    await defineTask('feeders_maas_edges', 'edge_detect.tick', {
      measurement: { type: 'string', value: 'maas_notification' },
      field: { type: 'string', value: 'state' },
      outputMeasurement: { type: 'string', value: 'maas_state_changes' },
    });
    const topic = uniqueName('maas_e2e');
    const kafka = new Kafka({ clientId: 'e2e', brokers, logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    await admin.disconnect();
    const t0 = Date.now() - 60_000;
    const states = ['OK', 'OK', 'CRITICAL', 'CRITICAL', 'WARNING', 'OK', 'OK', 'CRITICAL'];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: states.map((state, i) => ({
        value: JSON.stringify({
          tenantId: 'hybrid:4958307',
          entity: { label: 'web01-prod-a2.somecust' },
          check: { label: 'cpu_usage--web01' },
          alarm: { label: 'CPU high--web01' },
          details: { timestamp: t0 + i * 1000, state },
        }),
      })),
    });
    await producer.disconnect();
    const config = writeConfig(
      `kafka:\n  brokers: [${brokers.join(', ')}]\n  topic: ${topic}\n  groupId: ${uniqueName('e2e')}\nbatchSize: 3\n${influxSection()}`,
    );
    const p = spawnFeeder(['kafka', '--config', config, '--once']);
    expect((await p.exited).code, p.stderr()).toBe(0);
    const stored = await rows(input, 'SELECT state FROM maas_notification');
    expect(stored.map((r) => r[1])).toEqual(states);
    const expected = changes(stored);
    const got = await waitForTask('feeders_maas_edges', () => rows(output, 'SELECT state FROM maas_state_changes'), expected.length);
    expect(show(got)).toBe(show(expected));
  });

  it('Redis busplug readings become a moving average (moving_average.tick)', async () => {
    const size = 2;
    await defineTask('feeders_busplug_avg', 'moving_average.tick', {
      measurement: { type: 'string', value: 'electrical_busplug' },
      field: { type: 'string', value: 'active_power' },
      size: { type: 'int', value: size },
      outputMeasurement: { type: 'string', value: 'busplug_power_avg' },
    });
    const key = 'electrical:busplug:R1-PA-C01:A1:JSON';
    const config = writeConfig(`redis:
  url: ${redisUrl}
interval: 1m
families:
  - name: busplug
    match: "electrical:busplug:*:JSON"
    measurement: electrical_busplug
    keyPattern: '^electrical:busplug:(?<row>R\\d+)-(?<pod>P[A-Z])-(?<rack>[^:]+):(?<plug>[^:]+):JSON$'
    scale: { active_power: 10, power_factor: 1000 }
${influxSection()}`);
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    const t0 = Math.floor(Date.now() / 1000) - 600;
    const raw = [30000, 31000, 33000, 32000];
    for (const [i, activePower] of raw.entries()) {
      await redis.set(key, JSON.stringify({ timestamp: t0 + i * 60, active_power: activePower, power_factor: 941 }));
      const p = spawnFeeder(['redis', '--config', config, '--once']);
      expect((await p.exited).code, p.stderr()).toBe(0);
    }
    await redis.flushdb();
    redis.disconnect();
    const stored = await rows(input, 'SELECT active_power FROM electrical_busplug');
    expect(stored.map((r) => r[1])).toEqual(raw.map((v) => v / 10));
    const expected = stored.slice(size - 1).map((r, i) => {
      const window = stored.slice(i, i + size).map((x) => x[1] as number);
      return [r[0], window.reduce((a, b) => a + b, 0) / size];
    });
    const got = await waitForTask('feeders_busplug_avg', () => rows(output, 'SELECT usage_avg FROM busplug_power_avg'), expected.length);
    expect(got.map((r) => r[0])).toEqual(expected.map((r) => r[0]));
    got.forEach((r, i) => expect(r[1] as number).toBeCloseTo(expected[i][1] as number, 9));
  });
});
