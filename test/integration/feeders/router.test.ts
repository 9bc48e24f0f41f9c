import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeederCounters, type PointSink } from '../../../src/feeders/feeder.js';
import type { FeedPoint } from '../../../src/feeders/point.js';
import { normaliseFingerprint, type RouterConfig } from '../../../src/feeders/router/config.js';
import { RouterFeeder } from '../../../src/feeders/router/feeder.js';
import { createLogger } from '../../../src/log.js';
import { createDatabase, dropDatabase, ensureInfluxDB, influxQuery } from '../stack.js';
import { buildOnce, spawnFeeder, unavailableInflux, uniqueName, writeConfig } from './helpers.js';
import { ensureRouterSim, setRouterMode, setRouterSequence, type RouterSim } from './sshd.js';

/** Keeps what a feeder writes, for the tests that look at polls rather than at InfluxDB. */
class CaptureSink implements PointSink {
  points: FeedPoint[] = [];
  write(points: FeedPoint[]): void {
    this.points.push(...points);
  }
  async writeConfirmed(points: FeedPoint[]): Promise<void> {
    this.write(points);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const log = createLogger('router-test');
let sim: RouterSim;

function router(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    name: 'router1',
    host: '127.0.0.1',
    port: sim.port,
    username: sim.user,
    password: readFileSync(sim.passwordFile, 'utf8').trim(),
    hostKeySha256: sim.hostKeySha256,
    ...overrides,
  };
}

function feeder(routers: RouterConfig[], timeoutMs = 10_000) {
  const sink = new CaptureSink();
  const counters = new FeederCounters();
  const f = new RouterFeeder({ intervalMs: 60_000, timeoutMs, command: 'show adsl status', routers }, sink, counters, log);
  return { f, sink, counters };
}

beforeAll(async () => {
  sim = await ensureRouterSim();
});

describe('router feeder against a real sshd', () => {
  it('polls with a password and a checked host key, and reads SHOWTIME with its line metrics', async () => {
    setRouterMode(sim, 'showtime');
    const { f, counters } = feeder([router()]);
    const before = BigInt(Date.now()) * 1_000_000n;
    const outcome = await f.poll(router());
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.point.measurement).toBe('adsl_connection');
    expect(outcome.point.tags).toEqual({ host: 'router1' });
    expect(outcome.point.fields.value).toBe('SHOWTIME');
    expect(outcome.point.fields.actual_rate_down).toBeGreaterThan(0);
    expect(typeof outcome.point.fields.snr_margin_down).toBe('number');
    expect(outcome.point.time).toBeGreaterThanOrEqual(before);
    expect(counters.stats().read).toBe(1);
  });

  it('logs in with a private key too', async () => {
    setRouterMode(sim, 'training');
    const keyed = router({ password: undefined, privateKey: readFileSync(sim.clientKey) });
    const outcome = await feeder([keyed]).f.poll(keyed);
    expect(outcome.ok && outcome.point.fields.value).toBe('TRAINING');
  });

  it('refuses a server whose host key does not match, without throwing', async () => {
    const wrong = router({ hostKeySha256: 'SHA256:' + 'A'.repeat(43) });
    const { f, counters } = feeder([wrong]);
    const outcome = await f.poll(wrong);
    expect(outcome).toMatchObject({ ok: false, reason: 'poll_failed' });
    // The operator needs the key the server showed to decide whether it changed on purpose.
    expect(outcome.ok === false && outcome.detail).toBe(
      `router1 (127.0.0.1:${sim.port}): presented host key SHA256:${normaliseFingerprint(sim.hostKeySha256)}, not the configured ` +
        `hostKeySha256 SHA256:${'A'.repeat(43)}; if the router's key changed on purpose, put the new one in the config`,
    );
    expect(counters.stats().droppedBy.poll_failed).toBe(1);
  });

  it('counts a garbled reply and goes on with the next poll', async () => {
    setRouterMode(sim, 'showtime');
    setRouterSequence(sim, ['showtime', 'training', 'garbled', 'showtime']);
    const r = router();
    const { f, counters } = feeder([r]);
    const states: string[] = [];
    for (let i = 0; i < 4; i++) {
      const o = await f.poll(r);
      states.push(o.ok ? String(o.point.fields.value) : o.reason);
    }
    expect(states).toEqual(['SHOWTIME', 'TRAINING', 'garbled', 'SHOWTIME']);
    expect(counters.stats()).toMatchObject({ read: 4, droppedBy: { garbled: 1 } });
  });

  it('gives up a poll that outlives its timeout', async () => {
    setRouterMode(sim, 'slow', 20);
    const r = router();
    const started = Date.now();
    const outcome = await feeder([r], 1500).f.poll(r);
    expect(outcome).toMatchObject({ ok: false, reason: 'poll_failed' });
    expect(outcome.ok === false && outcome.detail).toMatch(/within 1500 ms/);
    // One retry of a timeout is allowed, so at most two deadlines plus the pause between them.
    expect(Date.now() - started).toBeLessThan(2 * 1500 + 2000);
    setRouterMode(sim, 'showtime');
  });

  it('polls several routers in one process; one that is down does not stop the others', async () => {
    setRouterMode(sim, 'showtime');
    const routers = [router({ name: 'router-a' }), router({ name: 'router-b' }), router({ name: 'router-down', port: 1 })];
    const { f, sink, counters } = feeder(routers, 3000);
    await f.run({ once: true, signal: new AbortController().signal });
    expect(sink.points.map((p) => p.tags.host).sort()).toEqual(['router-a', 'router-b']);
    expect(counters.stats().droppedBy.poll_failed).toBe(1);
  });
});

describe('feed router command into a real InfluxDB', () => {
  const db = uniqueName('feed_router');
  let influxUrl: string;

  beforeAll(async () => {
    buildOnce();
    influxUrl = (await ensureInfluxDB()).url;
    await createDatabase(db);
  });
  afterAll(async () => {
    await dropDatabase(db).catch(() => undefined);
  });

  const yaml = (routers: string) => `interval: 5m
timeout: 5s
influxdb:
  url: ${influxUrl}
  database: ${db}
  retentionPolicy: autogen
routers:
${routers}`;

  it('writes adsl_connection points, state in value, one series per router, across modes', async () => {
    const routers = `  - name: router1
    host: 127.0.0.1
    port: ${sim.port}
    username: ${sim.user}
    passwordFile: ${sim.passwordFile}
    hostKeySha256: "${sim.hostKeySha256}"
  - name: router2
    host: 127.0.0.1
    port: ${sim.port}
    username: ${sim.user}
    privateKeyFile: ${sim.clientKey}
    hostKeySha256: "${sim.hostKeySha256}"
`;
    const config = writeConfig(yaml(routers));
    for (const mode of ['showtime', 'training', 'garbled']) {
      setRouterMode(sim, mode);
      const p = spawnFeeder(['router', '--config', config, '--once']);
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(0);
      if (mode === 'garbled') expect(p.stderr()).toContain('garbled router reply');
      // Two polls in one second must not land on the same timestamp.
      await new Promise((r) => setTimeout(r, 50));
    }
    setRouterMode(sim, 'showtime');
    const series = await influxQuery(db, 'SELECT value, snr_margin_down FROM adsl_connection GROUP BY host');
    expect(series.map((s) => s.tags?.host).sort()).toEqual(['router1', 'router2']);
    for (const s of series) {
      // The garbled poll wrote nothing: one SHOWTIME then one TRAINING per router, times in ns order.
      expect(s.values.map((v) => v[1])).toEqual(['SHOWTIME', 'TRAINING']);
      expect(typeof s.values[0][2]).toBe('number');
      expect(s.values[1][2]).toBeNull();
      expect(s.values[0][0] as bigint).toBeLessThan(s.values[1][0] as bigint);
    }
  });

  it('exits 1 when InfluxDB answers 503: the polled point is counted and logged as lost', async () => {
    const down = await unavailableInflux();
    try {
      setRouterMode(sim, 'showtime');
      const routers = `  - name: router1\n    host: 127.0.0.1\n    port: ${sim.port}\n    username: ${sim.user}\n    passwordFile: ${sim.passwordFile}\n    hostKeySha256: "${sim.hostKeySha256}"\n`;
      const config = writeConfig(yaml(routers).replace(`url: ${influxUrl}`, `url: ${down.url}`));
      const p = spawnFeeder(['router', '--config', config, '--once']);
      const { code } = await p.exited;
      expect(code, p.stderr()).toBe(1);
      expect(p.stderr()).toContain('points lost: InfluxDB did not accept them');
      expect(p.stderr()).toContain('udf-sidecar: 1 point(s) read but not written to InfluxDB: 1 given up (shutdown)');
      expect(down.requests()).toBeGreaterThan(0);
    } finally {
      await down.close();
    }
  });

  it('exits 2 naming the key when a router has no host key and the check is on', async () => {
    const config = writeConfig(yaml(`  - host: 127.0.0.1\n    username: x\n    passwordEnv: HOME\n`));
    const p = spawnFeeder(['router', '--config', config, '--once']);
    expect((await p.exited).code).toBe(2);
    expect(p.stderr()).toContain(`${config}: routers[0].hostKeySha256`);
  });
});
