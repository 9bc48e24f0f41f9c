import { HttpError, InfluxDB, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import type { ConfigSection } from '../config.js';
import { SidecarError } from '../errors.js';
import { createLogger } from '../log.js';
import type { FeederCounters, PointSink } from './feeder.js';
import { toLineProtocol, type FeedPoint } from './point.js';

/**
 * The one path to InfluxDB. It is the client's WriteApi — batching, a bounded retry buffer, backoff on 5xx, 429 and
 * network errors — configured once here; nothing retries around it. What this adds: counters from the API's callbacks,
 * and `writeConfirmed`, which tells a caller (the Kafka feeder, before it commits offsets) when InfluxDB accepted its
 * lines or that they were given up.
 */

const log = createLogger('influx-writer');

// The client logs through its own console logger by default; route it through ours so stderr stays JSON lines.
setLogger({
  error: (message, err) => log.error(message, { error: err instanceof Error ? err.message : err }),
  warn: (message, err) => log.warn(message, { error: err instanceof Error ? err.message : err }),
});

export interface InfluxTarget {
  url: string;
  org: string;
  bucket: string;
  token?: string;
  timeoutMs: number;
}

export interface WriterTuning {
  batchSize: number;
  flushIntervalMs: number;
  maxRetries: number;
  maxRetryTimeMs: number;
  maxBufferLines: number;
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * `influxdb:` section. v2: url, org, bucket, token. v1 compatibility (InfluxDB 1.8's /api/v2/write): database and
 * retentionPolicy make the bucket `db/rp`; username + password make the token `user:password`.
 */
export function readInfluxConfig(section: ConfigSection): { target: InfluxTarget; tuning: WriterTuning } {
  const url = section.requireString('url');
  if (!/^https?:\/\//.test(url)) throw section.error('url', `expected an http(s) URL, got ${JSON.stringify(url)}`);
  const database = section.string('database');
  const bucketKey = section.string('bucket');
  if (database !== undefined && bucketKey !== undefined) {
    throw section.error('bucket', 'give either bucket (v2) or database/retentionPolicy (v1), not both');
  }
  let bucket: string;
  if (database !== undefined) {
    const rp = section.string('retentionPolicy', '');
    bucket = rp === '' ? database : `${database}/${rp}`;
  } else {
    bucket = section.requireString('bucket');
  }
  let token = section.secret('token', 'INFLUXDB_TOKEN');
  const username = section.string('username');
  if (username !== undefined) {
    if (token !== undefined) throw section.error('username', 'give either a token or username/password, not both');
    token = `${username}:${section.secret('password', 'INFLUXDB_PASSWORD') ?? ''}`;
  }
  const target: InfluxTarget = {
    url,
    org: section.string('org', ''),
    bucket,
    token: token === '' ? undefined : token,
    timeoutMs: section.durationMs('timeout', 10_000),
  };
  const tuning: WriterTuning = {
    batchSize: section.number('batchSize', 1000, { min: 1, integer: true }),
    flushIntervalMs: section.durationMs('flushInterval', 1000),
    maxRetries: section.number('maxRetries', 10, { min: 0, integer: true }),
    maxRetryTimeMs: section.durationMs('maxRetryTime', 300_000),
    maxBufferLines: section.number('maxBufferLines', 100_000, { min: 1, integer: true }),
    minRetryDelayMs: section.durationMs('minRetryDelay', 1000),
    maxRetryDelayMs: section.durationMs('maxRetryDelay', 30_000),
  };
  return { target, tuning };
}

interface Ticket {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export class InfluxWriter implements PointSink {
  private readonly api: WriteApi;
  /** Lines awaited by `writeConfirmed`, each with the tickets waiting for it (oldest first). */
  private readonly pending = new Map<string, Ticket[]>();
  /** Lines handed to the API whose fate (accepted or given up) is not known yet: in a batch, in flight or to retry. */
  private outstanding = 0;

  constructor(
    readonly target: InfluxTarget,
    private readonly tuning: WriterTuning,
    private readonly counters: FeederCounters,
  ) {
    const client = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs });
    // The callbacks run with `this` bound to the WriteApi, hence arrow functions that close over the writer.
    this.api = client.getWriteApi(target.org, target.bucket, 'ns', {
      batchSize: tuning.batchSize,
      flushInterval: tuning.flushIntervalMs,
      maxRetries: tuning.maxRetries,
      maxRetryTime: tuning.maxRetryTimeMs,
      maxBufferLines: tuning.maxBufferLines,
      minRetryDelay: tuning.minRetryDelayMs,
      maxRetryDelay: tuning.maxRetryDelayMs,
      exponentialBase: 2,
      writeSuccess: (lines) => this.onSuccess(lines),
      writeFailed: (error, lines, attempt, expires) => this.onFailure(error, lines, attempt, expires),
      writeRetrySkipped: (entry) => this.settleFailed(entry.lines, 'buffer_full', true),
    });
  }

  write(points: FeedPoint[]): void {
    const lines = this.toLines(points);
    this.outstanding += lines.length;
    this.api.writeRecords(lines);
  }

  writeConfirmed(points: FeedPoint[]): Promise<void> {
    const lines = this.toLines(points);
    if (lines.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      const ticket: Ticket = { remaining: lines.length, settled: false, resolve, reject };
      for (const line of lines) {
        const waiting = this.pending.get(line);
        if (waiting) waiting.push(ticket);
        else this.pending.set(line, [ticket]);
      }
    });
    this.outstanding += lines.length;
    this.api.writeRecords(lines);
    // A failed first attempt rejects here but the lines are already in the retry buffer; the ticket settles from the
    // success/failure callbacks, whichever attempt ends it.
    this.api.flush().catch(() => undefined);
    return done;
  }

  /**
   * Sends what is buffered and waits until every line written so far is accepted or given up — including batches the
   * API sent on its own and lines waiting in its retry buffer — for at most `waitMs`.
   */
  async flush(waitMs = Math.max(this.target.timeoutMs, 10_000)): Promise<void> {
    const deadline = Date.now() + waitMs;
    // A failed attempt rejects here while its lines move to the retry buffer; `outstanding` tells when they settle.
    await this.api.flush(true).catch(() => undefined);
    while (this.outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  async close(): Promise<void> {
    await this.flush();
    this.api.dispose();
    if (this.outstanding > 0) {
      log.error('closing with lines InfluxDB has not accepted', { lines: this.outstanding });
      this.settleFailed([], 'shutdown', false, this.outstanding);
    }
  }

  private toLines(points: FeedPoint[]): string[] {
    const lines: string[] = [];
    for (const p of points) {
      const line = toLineProtocol(p);
      if (line === undefined) this.counters.drop('no_fields');
      else lines.push(line);
    }
    return lines;
  }

  private onSuccess(lines: string[]): void {
    this.outstanding = Math.max(0, this.outstanding - lines.length);
    this.counters.add('written', lines.length);
    for (const line of lines) {
      const ticket = this.takeTicket(line);
      if (ticket && !ticket.settled && --ticket.remaining === 0) {
        ticket.settled = true;
        ticket.resolve();
      }
    }
  }

  /** Called by the API on every failed attempt; returning nothing keeps its own retry decision. */
  private onFailure(error: Error, lines: string[], attempt: number, expires: number): void {
    const refused = error instanceof HttpError && error.statusCode < 429;
    if (refused) {
      log.error('InfluxDB refused a batch', { status: (error as HttpError).statusCode, error: error.message, lines: lines.length });
      this.counters.add('rejected', lines.length);
      this.settleFailed(lines, 'rejected', false);
    } else if (attempt > this.tuning.maxRetries || expires <= Date.now()) {
      this.settleFailed(lines, 'retries_exhausted', true);
    } else {
      this.counters.add('retried', lines.length);
    }
  }

  private settleFailed(lines: string[], reason: string, retriable: boolean, count = lines.length): void {
    this.outstanding = Math.max(0, this.outstanding - count);
    if (reason !== 'rejected') this.counters.drop(reason, count);
    const err = new SidecarError(
      reason === 'rejected' ? 'INFLUX_WRITE_REJECTED' : 'INFLUX_WRITE_DROPPED',
      `InfluxDB write ${reason === 'rejected' ? 'refused' : `given up (${reason})`} for ${count} line(s)`,
      { retriable },
    );
    for (const line of lines) {
      const ticket = this.takeTicket(line);
      if (ticket && !ticket.settled) {
        ticket.settled = true;
        ticket.reject(err);
      }
    }
  }

  private takeTicket(line: string): Ticket | undefined {
    const waiting = this.pending.get(line);
    if (!waiting) return undefined;
    const ticket = waiting.shift();
    if (waiting.length === 0) this.pending.delete(line);
    return ticket;
  }
}
