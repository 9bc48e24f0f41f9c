import type { ConfigSection } from '../config.js';

/** Where the writer sends, and how (the `influxdb:` section of every feeder config). */
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
  /** Requests in flight at once (default 4). */
  maxInFlight?: number;
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
    maxInFlight: section.number('maxInFlight', 4, { min: 1, integer: true }),
  };
  return { target, tuning };
}
