import { Redis } from 'ioredis';
import { SidecarError, systemReason } from '../../errors.js';
import type { Logger } from '../../log.js';
import { type FeederCounters, ProblemLog, runEvery, type PointSink } from '../feeder.js';
import { nowNs, type FeedPoint } from '../point.js';
import type { FamilyConfig, RedisFeederConfig } from './config.js';
import { transformValue } from './transform.js';

/** What reading one listed key gave: its text, nothing (it vanished since SCAN), or a value of another type. */
export type Fetched = { key: string; kind: 'string'; value: string } | { key: string; kind: 'vanished' } | { key: string; kind: 'not_string'; type: string };

/** SCAN (never KEYS: it blocks the server) with MATCH; SCAN may repeat a key, so the result is de-duplicated. */
export async function scanKeys(redis: Redis, pattern: string, count: number): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    for (const k of batch) keys.add(k);
    cursor = next;
  } while (cursor !== '0');
  return [...keys].sort();
}

/**
 * MGET in pipelines of `depth` commands of `batch` keys. MGET answers nil both for a key that vanished and for one
 * that is not a string, so the nil ones are asked their TYPE to tell which.
 */
export async function fetchValues(redis: Redis, keys: string[], batch: number, depth: number): Promise<Fetched[]> {
  const out: Fetched[] = [];
  const chunks: string[][] = [];
  for (let i = 0; i < keys.length; i += batch) chunks.push(keys.slice(i, i + batch));
  for (let i = 0; i < chunks.length; i += depth) {
    const round = chunks.slice(i, i + depth);
    const pipeline = redis.pipeline();
    for (const chunk of round) pipeline.mget(...chunk);
    const results = (await pipeline.exec()) ?? [];
    const nil: string[] = [];
    round.forEach((chunk, c) => {
      const [err, values] = results[c] ?? [new Error('no reply')];
      if (err) throw err;
      chunk.forEach((key, k) => {
        const v = (values as Array<string | null>)[k];
        if (v === null || v === undefined) nil.push(key);
        else out.push({ key, kind: 'string', value: v });
      });
    });
    if (nil.length > 0) out.push(...(await typesOf(redis, nil)));
  }
  return out;
}

async function typesOf(redis: Redis, keys: string[]): Promise<Fetched[]> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.type(key);
  const results = (await pipeline.exec()) ?? [];
  return keys.map((key, i): Fetched => {
    const type = String(results[i]?.[1] ?? 'none');
    return type === 'none' ? { key, kind: 'vanished' } : { key, kind: 'not_string', type };
  });
}

/** Shard `index` (1-based) of `count`: the keys whose hash falls in it. */
export interface Shard {
  index: number;
  count: number;
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new SidecarError('CONFIG_INVALID', `--shard ${JSON.stringify(text)}: expected i/n with 1 ≤ i ≤ n, e.g. --shard 2/3`);
  }
  return { index, count };
}

/**
 * The shard (1-based) a key belongs to: FNV-1a (32-bit) of its UTF-8 bytes, modulo the count. It depends on the key
 * alone, so n feeders that each SCAN the same patterns split the keys between them with none read twice and none
 * missed, and a new key lands in exactly one shard.
 */
export function shardOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % count) + 1;
}

export interface PassResult {
  points: FeedPoint[];
  /** Per family: keys listed, points made. */
  byFamily: Record<string, { keys: number; points: number }>;
}

export class RedisFeeder {
  private readonly redis: Redis;
  /** Why the connection last failed (ECONNREFUSED…): ioredis itself only says "Connection is closed." */
  private connectionError: Error | undefined;

  constructor(
    private readonly config: RedisFeederConfig,
    private readonly sink: PointSink,
    readonly counters: FeederCounters,
    private readonly log: Logger,
    private readonly options: { shard?: Shard } = {},
  ) {
    this.redis = new Redis(config.url, {
      password: config.password,
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      // A Redis that is down makes a pass fail (logged); the next interval tries again, so no endless reconnecting.
      retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1000)),
    });
    this.redis.on('error', (err: Error) => {
      this.connectionError = err;
      this.log.debug('redis connection error', { error: err.message });
    });
    this.redis.on('ready', () => (this.connectionError = undefined));
  }

  async run(opts: { once: boolean; signal: AbortSignal }): Promise<void> {
    await runEvery({ name: 'redis', intervalMs: this.config.intervalMs, once: opts.once, log: this.log, signal: opts.signal }, async () => {
      await this.passAndWrite();
    });
  }

  /** The address, never the password: for messages. */
  get address(): string {
    const { host, port, db, path } = this.redis.options;
    return path ? `unix:${path}` : `${host}:${port}/${db ?? 0}`;
  }

  async passAndWrite(): Promise<PassResult> {
    const started = Date.now();
    const result: PassResult = { points: [], byFamily: {} };
    for (const family of this.config.families) {
      const points = await this.readFamily(family, result).catch((err: unknown) => {
        throw this.redis.status === 'ready' ? err : this.unreachable(err);
      });
      this.sink.write(points);
      result.points.push(...points);
    }
    this.log.info('redis pass done', { ms: Date.now() - started, points: result.points.length, families: result.byFamily });
    return result;
  }

  /** One family, shard by shard; per-key problems are counted and logged once for the family, never thrown. */
  private async readFamily(family: FamilyConfig, result: PassResult): Promise<FeedPoint[]> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    const problems = new ProblemLog();
    const points: FeedPoint[] = [];
    let keyCount = 0;
    const now = nowNs();
    for (const shard of family.shards) {
      const keys = this.mine(await scanKeys(this.redis, shard, this.config.scanCount));
      keyCount += keys.length;
      this.counters.add('read', keys.length);
      for (const item of await fetchValues(this.redis, keys, this.config.mgetBatch, this.config.pipelineDepth)) {
        if (item.kind !== 'string') {
          this.counters.drop(item.kind);
          problems.add(item.kind, item.kind === 'not_string' ? `${item.key} (${item.type})` : item.key);
          continue;
        }
        const r = transformValue(family, item.key, item.value, now);
        if (r.ok) {
          points.push(r.point);
          if (r.timeFallback) problems.add('no source timestamp: time is now(), with time_fallback=true', item.key, 'written');
        } else {
          this.counters.drop(r.reason);
          problems.add(r.reason, r.detail);
        }
      }
    }
    problems.report(this.log, { family: family.name });
    result.byFamily[family.name] = { keys: keyCount, points: points.length };
    return points;
  }

  /** With `--shard i/n`: only the keys of shard i (every member still SCANs, and reads only its share). */
  private mine(keys: string[]): string[] {
    const shard = this.options.shard;
    if (!shard || shard.count === 1) return keys;
    return keys.filter((key) => shardOf(key, shard.count) === shard.index);
  }

  private unreachable(err: unknown): SidecarError {
    const cause = this.connectionError ?? err;
    const reason = systemReason(cause) ?? (cause as Error).message;
    return new SidecarError('SERVER_UNREACHABLE', `Redis at ${this.address}: ${reason}; check redis.url (env REDIS_URL)`, {
      cause,
      retriable: true,
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
