import { afterEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Metrics, startStatusLine, statusFields } from './metrics.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Metrics recorders', () => {
  it('exposes per-function counters, the connection gauge and snapshot sizes in Prometheus format', async () => {
    const metrics = new Metrics();
    const fn = metrics.forFunction('edgeDetect');
    fn.connectionOpened();
    fn.connectionOpened();
    fn.connectionClosed();
    fn.pointsIn(5);
    fn.pointsOut();
    fn.initFailed();
    fn.error();
    fn.snapshot(300);
    const text = await metrics.exposition();
    expect(text).toContain('udf_sidecar_function_connections{function="edgeDetect"} 1');
    expect(text).toContain('udf_sidecar_function_points_in_total{function="edgeDetect"} 5');
    expect(text).toContain('udf_sidecar_function_points_out_total{function="edgeDetect"} 1');
    expect(text).toContain('udf_sidecar_function_init_failures_total{function="edgeDetect"} 1');
    expect(text).toContain('udf_sidecar_function_errors_total{function="edgeDetect"} 1');
    expect(text).toContain('udf_sidecar_function_snapshot_bytes_bucket{le="1024",function="edgeDetect"} 1');
    expect(text).toContain('udf_sidecar_function_snapshot_bytes_bucket{le="256",function="edgeDetect"} 0');
    expect(text).toContain('udf_sidecar_function_snapshot_bytes_sum{function="edgeDetect"} 300');
  });

  it('shows a function or feeder with zeros as soon as it is known, before any traffic', async () => {
    const metrics = new Metrics();
    metrics.forFunction('rate');
    metrics.forFeeder('kafka');
    const text = await metrics.exposition();
    expect(text).toContain('udf_sidecar_function_points_in_total{function="rate"} 0');
    expect(text).toContain('udf_sidecar_feeder_points_written_total{feeder="kafka"} 0');
    expect(text).toContain('udf_sidecar_feeder_lag_seconds{feeder="kafka"} 0');
  });

  it('returns the same recorder for the same name, so counts accumulate across connections', () => {
    const metrics = new Metrics();
    expect(metrics.forFunction('rate')).toBe(metrics.forFunction('rate'));
    metrics.forFunction('rate').pointsIn(2);
    metrics.forFunction('rate').pointsIn(3);
    expect(metrics.summary().functions.rate.pointsIn).toBe(5);
  });

  it('counts feeder reads, writes, rejections, retries, drops and the latest lag', async () => {
    const metrics = new Metrics();
    const f = metrics.forFeeder('redis');
    f.read(10);
    f.written(7);
    f.rejected(1);
    f.retried(2);
    f.dropped(2);
    f.lag(1.5);
    f.lag(0.25);
    expect(metrics.summary().feeders.redis).toEqual({ read: 10, written: 7, rejected: 1, retried: 2, dropped: 2, lagSeconds: 0.25 });
    const text = await metrics.exposition();
    expect(text).toContain('udf_sidecar_feeder_points_read_total{feeder="redis"} 10');
    expect(text).toContain('udf_sidecar_feeder_write_retries_total{feeder="redis"} 2');
    expect(text).toContain('udf_sidecar_feeder_points_rejected_total{feeder="redis"} 1');
    expect(text).toContain('udf_sidecar_feeder_points_dropped_total{feeder="redis"} 2');
    expect(text).toContain('udf_sidecar_feeder_lag_seconds{feeder="redis"} 0.25');
  });

  it("follows an emitter of count events (the feeders' counters) until unsubscribed", () => {
    const metrics = new Metrics();
    const source = new EventEmitter();
    const stop = metrics.followFeeder('kafka', source);
    source.emit('count', { name: 'read', n: 5 });
    source.emit('count', { name: 'written', n: 4 });
    source.emit('count', { name: 'dropped', n: 1, reason: 'invalid' });
    source.emit('count', { name: 'retried', n: 2 });
    source.emit('count', { name: 'unknown-kind', n: 9 });
    stop();
    source.emit('count', { name: 'read', n: 100 });
    expect(metrics.summary().feeders.kafka).toEqual({ read: 5, written: 4, rejected: 0, retried: 2, dropped: 1, lagSeconds: 0 });
    expect(source.listenerCount('count')).toBe(0);
  });

  it('keeps two Metrics instances apart (no global registry)', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.forFunction('rate').pointsIn(4);
    expect(await b.exposition()).not.toContain('function="rate"');
  });

  it('adds Node process metrics only when asked', async () => {
    expect(await new Metrics().exposition()).not.toContain('process_cpu');
    expect(await new Metrics({ defaultMetrics: true }).exposition()).toContain('udf_sidecar_process_cpu_user_seconds_total');
  });
});

describe('metrics HTTP server', () => {
  it('serves /metrics in the Prometheus text format', async () => {
    const metrics = new Metrics();
    metrics.forFunction('movingAverage').pointsIn(3);
    server = await startMetricsServer({ metrics, port: 0, health: () => ({ ok: true }) });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('udf_sidecar_function_points_in_total{function="movingAverage"} 3');
  });

  it('answers /healthz 200 with the callback details when healthy and 503 when not', async () => {
    let healthy = true;
    server = await startMetricsServer({ metrics: new Metrics(), port: 0, health: () => ({ ok: healthy, sockets: 3 }) });
    let res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, sockets: 3 });
    healthy = false;
    res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, sockets: 3 });
  });

  it('answers 503 with the reason when the health callback throws or rejects', async () => {
    server = await startMetricsServer({
      metrics: new Metrics(),
      port: 0,
      health: async () => {
        throw new Error('socket dir gone');
      },
    });
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, reason: 'socket dir gone' });
  });

  it('answers 503 instead of hanging when the health callback never settles', async () => {
    server = await startMetricsServer({ metrics: new Metrics(), port: 0, health: () => new Promise(() => {}), healthTimeoutMs: 50 });
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect((await res.json()).reason).toMatch(/longer than 50 ms/);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    server = await startMetricsServer({ metrics: new Metrics(), port: 0, health: () => ({ ok: true }) });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('binds loopback by default and releases the port on close', async () => {
    const s = await startMetricsServer({ metrics: new Metrics(), port: 0, health: () => ({ ok: true }) });
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await s.close();
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });

  it('fails to start with the listen error when the port is taken', async () => {
    server = await startMetricsServer({ metrics: new Metrics(), port: 0, health: () => ({ ok: true }) });
    const port = Number(new URL(server.url).port);
    await expect(startMetricsServer({ metrics: new Metrics(), port, health: () => ({ ok: true }) })).rejects.toMatchObject({
      code: 'PORT_IN_USE',
      message: `metrics server: 127.0.0.1:${port} is in use: pick another --metrics-port, or stop what holds it`,
    });
  });
});

describe('status line', () => {
  it('computes per-second rates over the interval from two summaries', () => {
    const before = {
      functions: { rate: { connections: 1, pointsIn: 100, pointsOut: 50, initFailures: 0, errors: 0, snapshots: 0, lastSnapshotBytes: 0 } },
      feeders: {},
    };
    const after = {
      functions: { rate: { ...before.functions.rate, pointsIn: 700, pointsOut: 350 } },
      feeders: { redis: { read: 20, written: 20, rejected: 0, retried: 0, dropped: 0, lagSeconds: 0 } },
    };
    const fields = statusFields(before, after, 60_000) as { functions: Record<string, any>; feeders: Record<string, any> };
    expect(fields.functions.rate).toMatchObject({ pointsIn: 700, pointsInPerSec: 10, pointsOutPerSec: 5 });
    // A feeder that appeared during the interval counts from zero.
    expect(fields.feeders.redis).toMatchObject({ written: 20, writtenPerSec: 0.33 });
  });

  it('logs a status line through the given winston logger every interval', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
    const metrics = new Metrics();
    metrics.forFunction('edgeDetect').pointsIn(4);
    const status = startStatusLine({ metrics, logger, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 70));
    status.stop();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({ level: 'info', message: 'status', functions: { edgeDetect: { pointsIn: 4 } } });
    const count = lines.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.length).toBe(count);
  });
});
