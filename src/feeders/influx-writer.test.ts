import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { ConfigError } from '../errors.js';
import { FeederCounters } from './feeder.js';
import { readInfluxConfig, type WriterTuning } from './influx-config.js';
import { InfluxWriter } from './influx-writer.js';
import type { FeedPoint } from './point.js';

const read = (yaml: string, env: NodeJS.ProcessEnv = {}) => readInfluxConfig(parseConfigText(yaml, 'f.yaml', env).root.section('influxdb'));

describe('InfluxDB target from config', () => {
  it('maps the v1 compatibility form to bucket db/rp and token user:password', () => {
    const { target } = read(
      'influxdb:\n  url: http://127.0.0.1:18086\n  database: telegraf\n  retentionPolicy: autogen\n  username: feeder\n  passwordEnv: PW\n',
      { PW: 'pw' },
    );
    expect(target).toMatchObject({ bucket: 'telegraf/autogen', token: 'feeder:pw', org: '' });
  });

  it('takes v2 url/org/bucket and the token from INFLUXDB_TOKEN', () => {
    const { target, tuning } = read('influxdb:\n  url: http://h:8086\n  org: dc\n  bucket: moc\n  maxRetryTime: 2m\n', { INFLUXDB_TOKEN: 't0k' });
    expect(target).toMatchObject({ url: 'http://h:8086', org: 'dc', bucket: 'moc', token: 't0k' });
    expect(tuning.maxRetryTimeMs).toBe(120_000);
  });

  it('refuses ambiguous or incomplete targets, naming the key', () => {
    expect(() => read('influxdb:\n  url: http://h\n  bucket: b\n  database: d\n')).toThrow(ConfigError);
    expect(() => read('influxdb:\n  url: http://h\n')).toThrow(/influxdb.bucket: is required/);
    expect(() => read('influxdb:\n  bucket: b\n')).toThrow(/influxdb.url/);
    expect(() => read('influxdb:\n  url: h:1\n  bucket: b\n')).toThrow(/http/);
  });
});

/**
 * The writer's bookkeeping against an HTTP peer on loopback that answers as told: delays, 503s, 400s. (The happy
 * path against a real InfluxDB is in test/integration/feeders/.) Each request is parked until the test answers it.
 */
interface Parked {
  body: string;
  answer(status: number, headers?: Record<string, string>): void;
}

async function peer(): Promise<{ url: string; requests: Parked[]; next(): Promise<Parked>; close(): Promise<void> }> {
  const requests: Parked[] = [];
  const waiting: Array<(p: Parked) => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
      const parked: Parked = {
        body,
        answer: (status, headers = {}) =>
          res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(status >= 300 ? '{"error":"told so"}' : ''),
      };
      requests.push(parked);
      waiting.shift()?.(parked);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let seen = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    next: () => (seen < requests.length ? Promise.resolve(requests[seen++]) : new Promise((r) => waiting.push((p) => (seen++, r(p))))),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const quietLog = {
  error: (...a: unknown[]) => process.env.DBG && console.log('E', ...a),
  warn: (...a: unknown[]) => process.env.DBG && console.log('W', ...a),
  info: () => undefined,
  debug: () => undefined,
} as never;

function writerFor(url: string, tuning: Partial<WriterTuning> = {}, signal?: AbortSignal) {
  const counters = new FeederCounters();
  const full: WriterTuning = {
    batchSize: 1000,
    flushIntervalMs: 10,
    maxRetries: 3,
    maxRetryTimeMs: 60_000,
    maxBufferLines: 10_000,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 20,
    maxInFlight: 4,
    ...tuning,
  };
  const writer = new InfluxWriter({ url, org: '', bucket: 'db', timeoutMs: 2000 }, full, counters, { signal, log: quietLog });
  return { writer, counters };
}

const point = (v: number, t = 1n): FeedPoint => ({ measurement: 'm', tags: { host: 'a' }, fields: { v }, time: t });

describe('InfluxWriter delivery', () => {
  let server: Awaited<ReturnType<typeof peer>>;
  afterEach(async () => server?.close());

  it('gives every writeConfirmed call its own handle: identical lines from two callers never settle each other', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url);
    const same = point(1);
    const a = writer.writeConfirmed([same, point(2, 2n)]);
    const first = await server.next();
    const b = writer.writeConfirmed([same]);
    const second = await server.next();
    // The second caller's request is answered first; the first caller's batch is then refused.
    second.answer(204);
    await expect(b).resolves.toBeUndefined();
    first.answer(400);
    await expect(a).rejects.toMatchObject({ code: 'INFLUX_WRITE_REJECTED', retriable: false });
    expect(counters.stats()).toMatchObject({ written: 1, rejected: 2 });
    await writer.close();
  });

  it('retries a confirmed write past maxRetries until its signal aborts, then rejects without counting a loss', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url, { maxRetries: 1 });
    const stop = new AbortController();
    const done = writer.writeConfirmed([point(1)], { signal: stop.signal });
    for (let i = 0; i < 4; i++) (await server.next()).answer(503);
    const fifth = await server.next();
    stop.abort();
    fifth.answer(503);
    await expect(done).rejects.toMatchObject({ code: 'INFLUX_WRITE_ABORTED', retriable: true });
    expect(counters.stats()).toMatchObject({ written: 0, dropped: 0, retried: 4 });
    expect(counters.losses().total).toBe(0);
    await writer.close();
  });

  it('an attempt in flight when the caller aborts still counts if InfluxDB accepts it', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url);
    const stop = new AbortController();
    const done = writer.writeConfirmed([point(1)], { signal: stop.signal });
    const req = await server.next();
    stop.abort();
    req.answer(204);
    await expect(done).resolves.toBeUndefined();
    expect(counters.stats().written).toBe(1);
  });

  it('gives up lines of write() after maxRetries, counted and reported as a loss', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url, { maxRetries: 2 });
    writer.write([point(1), point(2, 2n)]);
    const flushed = writer.flush();
    for (let i = 0; i < 3; i++) (await server.next()).answer(503);
    await flushed;
    expect(counters.stats()).toMatchObject({ written: 0, retried: 4, droppedBy: { retries_exhausted: 2 } });
    expect(counters.losses()).toEqual({ total: 2, rejected: 0, givenUp: { retries_exhausted: 2 } });
    await writer.close();
  });

  it('flush resolves when the retried lines are accepted, and a Retry-After is waited out', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url);
    writer.write([point(1)]);
    let flushed = false;
    const flushing = writer.flush().then(() => (flushed = true));
    (await server.next()).answer(429, { 'retry-after': '1' });
    const again = await server.next();
    expect(flushed).toBe(false);
    expect(again.body).toBe(server.requests[0].body);
    again.answer(204);
    await flushing;
    expect(counters.stats()).toMatchObject({ written: 1, retried: 1, dropped: 0 });
  });

  it('one request per backoff while InfluxDB is down, whatever the number of batches held', async () => {
    server = await peer();
    const { writer } = writerFor(server.url, { batchSize: 1, maxInFlight: 1, maxRetries: 100 });
    writer.write([point(1, 1n), point(2, 2n), point(3, 3n)]);
    const flushing = writer.flush();
    for (let i = 0; i < 3; i++) (await server.next()).answer(503);
    // Every attempt so far carried the same, first, batch: the others wait behind it.
    expect(new Set(server.requests.map((r) => r.body)).size).toBe(1);
    for (let i = 0; i < 3; i++) (await server.next()).answer(204);
    await flushing;
    expect(server.requests.map((r) => r.body.split(' ').at(-1))).toEqual(['1', '1', '1', '1', '2', '3']);
  });

  it('once the feeder stops, what InfluxDB does not accept within the write timeout is lost, counted as shutdown', async () => {
    server = await peer();
    const stop = new AbortController();
    const { writer, counters } = writerFor(
      server.url,
      { maxRetries: 100, maxRetryTimeMs: 600_000, minRetryDelayMs: 60_000, maxRetryDelayMs: 60_000 },
      stop.signal,
    );
    writer.write([point(1)]);
    const retried = new Promise((r) => counters.once('count', r));
    (await server.next()).answer(503);
    await retried;
    // In a minute-long backoff; stopping sends it once more at once.
    stop.abort();
    (await server.next()).answer(503);
    await writer.close();
    expect(counters.losses()).toEqual({ total: 1, rejected: 0, givenUp: { shutdown: 1 } });
  });

  it('pushes the oldest lines of write() out of a full buffer, never a confirmed write', async () => {
    server = await peer();
    const { writer, counters } = writerFor(server.url, { batchSize: 2, maxInFlight: 1, maxBufferLines: 3 });
    const stop = new AbortController();
    const confirmed = writer.writeConfirmed([point(0, 100n), point(0, 101n)], { signal: stop.signal });
    const first = await server.next();
    writer.write([point(1, 1n), point(2, 2n)]);
    writer.write([point(3, 3n), point(4, 4n)]);
    expect(counters.stats().droppedBy).toEqual({ buffer_full: 2 });
    first.answer(204);
    await confirmed;
    for (let i = 0; i < 1; i++) (await server.next()).answer(204);
    await writer.flush();
    expect(
      server.requests
        .at(-1)!
        .body.split('\n')
        .map((l) => l.split(' ').at(-1)),
    ).toEqual(['3', '4']);
    expect(counters.stats().written).toBe(4);
  });
});
