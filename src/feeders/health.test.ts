import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkTcp, ReachabilityMonitor, redisAddress, splitHostPort, type Target } from './health.js';

/** A target whose answer the test sets. */
function scripted(name: string) {
  const t = { up: true, checks: 0 };
  const target: Target = {
    name,
    addresses: [`${name}:1`],
    check: async () => {
      t.checks++;
      if (!t.up) throw new Error('ECONNREFUSED');
    },
  };
  return { t, target };
}

describe('ReachabilityMonitor', () => {
  it('is live through an outage shorter than unhealthyAfter, and not ready during it', async () => {
    let now = 1_000_000;
    const source = scripted('source');
    const influx = scripted('influxdb');
    const m = new ReachabilityMonitor([source.target, influx.target], { unhealthyAfterMs: 30_000, intervalMs: 5000, timeoutMs: 1000, now: () => now });
    expect(m.readiness()).toMatchObject({ ok: false }); // nothing checked yet
    await m.checkAll();
    expect(m.liveness().ok).toBe(true);
    expect(m.readiness().ok).toBe(true);

    influx.t.up = false;
    now += 10_000;
    await m.checkAll();
    expect(m.liveness().ok).toBe(true);
    expect(m.readiness()).toMatchObject({ ok: false, reason: 'influxdb: influxdb:1: ECONNREFUSED' });

    now += 25_000; // unreachable since the last good check, 35 s ago
    await m.checkAll();
    expect(m.liveness()).toMatchObject({
      ok: false,
      reason: 'influxdb unreachable for 35 s (more than 30 s): influxdb:1: ECONNREFUSED',
      targets: { source: { reachable: true }, influxdb: { reachable: false, unreachableForSeconds: 35 } },
    });

    influx.t.up = true;
    await m.checkAll();
    expect(m.liveness().ok).toBe(true);
    expect(m.readiness().ok).toBe(true);
  });

  it('counts a target never reached from the start', async () => {
    let now = 0;
    const source = scripted('source');
    source.t.up = false;
    const m = new ReachabilityMonitor([source.target], { unhealthyAfterMs: 5000, intervalMs: 1000, timeoutMs: 1000, now: () => now });
    await m.checkAll();
    expect(m.liveness().ok).toBe(true);
    now = 6000;
    await m.checkAll();
    expect(m.liveness()).toMatchObject({ ok: false, targets: { source: { unreachableForSeconds: 6 } } });
  });

  it('finds a source reachable when any of its addresses answers', async () => {
    const seen: string[] = [];
    const target: Target = {
      name: 'source',
      addresses: ['a:1', 'b:2'],
      check: async (address) => {
        seen.push(address);
        if (address === 'a:1') throw new Error('ETIMEDOUT');
      },
    };
    const m = new ReachabilityMonitor([target], { unhealthyAfterMs: 1000, intervalMs: 1000, timeoutMs: 1000 });
    await m.checkAll();
    expect(seen).toEqual(['a:1', 'b:2']);
    expect(m.readiness().ok).toBe(true);
  });
});

describe('checks', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('checkTcp connects to a listening port and names why it cannot', async () => {
    server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await expect(checkTcp(`127.0.0.1:${port}`, 2000)).resolves.toBeUndefined();
    await new Promise((r) => server!.close(r));
    await expect(checkTcp(`127.0.0.1:${port}`, 2000)).rejects.toThrow('ECONNREFUSED');
  });

  it('reads addresses from Redis URLs and host:port', () => {
    expect(redisAddress('redis://redis:6379/0')).toBe('redis:6379');
    expect(redisAddress('rediss://:secret@cache.example:6380')).toBe('cache.example:6380');
    expect(redisAddress('redis://10.0.0.1')).toBe('10.0.0.1:6379');
    expect(splitHostPort('[::1]:9092')).toEqual({ host: '::1', port: 9092 });
    expect(() => splitHostPort('kafka')).toThrow('kafka is not host:port');
  });
});
