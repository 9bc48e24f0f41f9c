import { Redis } from 'ioredis';
import { SidecarError, systemReason } from '../../errors.js';
import type { Logger } from '../../log.js';
import { type FeederCounters, ProblemLog, runEvery, type PointSink } from '../feeder.js';
import { nowNs, type FeedPoint } from '../point.js';
import type { RedisFeederConfig } from './config.js';
import { fetchRounds, scanUnits, type Unit } from './keyspace.js';
import { type Shard, shardOf } from './shard.js';
import { transformValue } from './transform.js';

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

  /**
   * One pass: one SCAN of the keyspace for every family (this shard's keys only), then unit by unit (a family's SCAN
   * pattern) MGET, transform, and hand the points to the sink, so InfluxDB takes one unit's points while the next
   * is read.
   */
  async passAndWrite(): Promise<PassResult> {
    const started = Date.now();
    const result: PassResult = { points: [], byFamily: {} };
    const fail = (err: unknown) => {
      throw this.redis.status === 'ready' ? err : this.unreachable(err);
    };
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect().catch(fail);
    const units = await scanUnits(this.redis, this.config.families, this.config.scanCount, (key) => this.mine(key)).catch(fail);
    const now = nowNs();
    for (const family of this.config.families) {
      const problems = new ProblemLog();
      const counts = { keys: 0, points: 0 };
      for (const unit of units) {
        if (unit.family !== family) continue;
        const points = await this.readUnit(unit, problems, now).catch(fail);
        counts.keys += unit.keys.length;
        counts.points += points.length;
        this.sink.write(points);
        for (const p of points) result.points.push(p);
      }
      problems.report(this.log, { family: family.name });
      result.byFamily[family.name] = counts;
    }
    this.log.info('redis pass done', { ms: Date.now() - started, points: result.points.length, families: result.byFamily });
    return result;
  }

  /** One unit's keys read and transformed; per-key problems are counted and told to the family's log, never thrown. */
  private async readUnit(unit: Unit, problems: ProblemLog, now: bigint): Promise<FeedPoint[]> {
    const points: FeedPoint[] = [];
    this.counters.add('read', unit.keys.length);
    for await (const round of fetchRounds(this.redis, unit.keys, this.config.mgetBatch, this.config.pipelineDepth)) {
      for (const item of round) {
        if (item.kind !== 'string') {
          this.counters.drop(item.kind);
          problems.add(item.kind, item.kind === 'not_string' ? `${item.key} (${item.type})` : item.key);
          continue;
        }
        const r = transformValue(unit.family, item.key, item.value, now);
        if (r.ok) {
          points.push(r.point);
          if (r.timeFallback) problems.add('no source timestamp: time is now(), with time_fallback=true', item.key, 'written');
        } else {
          this.counters.drop(r.reason);
          problems.add(r.reason, r.detail);
        }
      }
    }
    return points;
  }

  /** With `--shard i/n`: whether a key is of shard i (every member still SCANs, and reads only its share). */
  private mine(key: string): boolean {
    const shard = this.options.shard;
    return !shard || shard.count === 1 || shardOf(key, shard.count) === shard.index;
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
