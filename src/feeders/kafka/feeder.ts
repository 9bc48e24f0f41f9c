import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type logCreator, type Producer } from 'kafkajs';
import { SidecarError } from '../../errors.js';
import { createLogger, type Logger } from '../../log.js';
import { isRetriable, retry } from '../../retry.js';
import { errorText, ProblemLog, type FeederCounters, type PointSink } from '../feeder.js';
import type { FeedPoint } from '../point.js';
import type { KafkaFeederConfig } from './config.js';
import { summarize, tenantFromHeaders } from './transform.js';
import { WindowedCounts } from './windows.js';

/** kafkajs logs through our winston logger (component `kafkajs`), so stderr keeps one format. */
export function kafkaLogCreator(): logCreator {
  const log = createLogger('kafkajs');
  const levels: Record<number, string> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug' };
  // kafkajs adds the error's stack to its entries: a log line keeps the message, never a stack trace.
  return () =>
    ({ namespace, level, log: { message, stack: _stack, ...extra } }) =>
      log.log(levels[level] ?? 'info', message, { namespace, ...extra });
}

/** Heartbeat answers that mean the group moved on: this member must rejoin before it can commit anything. */
const GROUP_CHANGED = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

interface Classified {
  points: Array<{ point: FeedPoint; message: KafkaMessage }>;
  deadLetters: Array<{ message: KafkaMessage; reason: string }>;
  filtered: number;
}

export class KafkaFeeder {
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly windows = new WindowedCounts();
  /** Per partition owned: messages not committed yet (up to the high watermark), and the oldest one's timestamp (ms). */
  private readonly lag = new Map<number, { messages: number; oldestPendingMs: number }>();
  private stopSignal: AbortSignal = new AbortController().signal;
  /** Next offset to consume per partition, after the last accepted write. */
  private readonly committed = new Map<number, bigint>();
  private problems = new ProblemLog();

  constructor(
    private readonly config: KafkaFeederConfig,
    private readonly sink: PointSink,
    readonly counters: FeederCounters,
    private readonly log: Logger,
  ) {
    this.kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      ssl: config.ssl,
      sasl: config.sasl,
      logLevel: process.env.LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.WARN,
      logCreator: kafkaLogCreator(),
    });
    this.consumer = this.kafka.consumer({ groupId: config.groupId, sessionTimeout: config.sessionTimeoutMs, allowAutoTopicCreation: false });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.admin = this.kafka.admin();
  }

  async run(opts: { once: boolean; signal: AbortSignal }): Promise<void> {
    this.stopSignal = opts.signal;
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.joined(payload));
    // A feeder started before Kafka (a host reboot, compose) waits for it, as the Redis feeder waits for Redis; a
    // --once run is a check and fails instead. Auth and config errors are not retriable and fail at once.
    try {
      await retry(() => this.connect(), {
        retries: opts.once ? 0 : Infinity,
        minDelayMs: 1000,
        maxDelayMs: 30_000,
        signal: opts.signal,
        onRetry: (err, attempt, delayMs) => this.log.warn('Kafka not reachable: trying again', { attempt, delayMs, error: errorText(err) }),
      });
    } catch (err) {
      if (opts.signal.aborted) return;
      throw err;
    }
    if (opts.signal.aborted) return;
    const target = opts.once ? await this.highWatermarks() : undefined;

    const status = setInterval(() => this.logStatus(), this.config.statusIntervalMs);
    const lagClock = setInterval(() => this.updateLag(), 1000);
    try {
      await this.consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        // Offsets are resolved only after InfluxDB accepted the points; a threshold of 1 commits every resolve.
        autoCommitThreshold: 1,
        eachBatch: (payload) => this.handleBatch(payload),
      });
      await this.untilDone(opts.signal, target);
    } finally {
      clearInterval(status);
      clearInterval(lagClock);
      await this.stop();
    }
  }

  /**
   * Resolves on a stop signal or, with `--once`, when caught up; rejects if kafkajs gives up on the consumer (a crash it
   * will not restart from), so the process exits non-zero and its supervisor restarts it.
   */
  private untilDone(signal: AbortSignal, target: Map<number, bigint> | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (err?: Error): void => {
        timers.forEach(clearInterval);
        removeCrash();
        if (err) reject(err);
        else resolve();
      };
      const removeCrash = this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) finish(new SidecarError('KAFKA_CONSUMER_CRASHED', `consumer stopped: ${payload.error.message}`, { cause: payload.error }));
      });
      if (signal.aborted) return finish();
      signal.addEventListener('abort', () => finish(), { once: true });
      if (target) timers.push(setInterval(() => this.caughtUp(target) && finish(), 200));
    });
  }

  private async connect(): Promise<void> {
    try {
      await this.admin.connect();
      await this.ensureDeadLetterTopic();
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [this.config.topic], fromBeginning: this.config.fromBeginning });
    } catch (err) {
      throw this.startError(err) ?? err;
    }
  }

  /**
   * Why the start failed, naming the brokers and the key to look at. A broker not reachable (after kafkajs' own
   * retries) is retriable; a certificate not verified or a SASL login refused is not: waiting does not fix a config.
   */
  private startError(err: unknown): SidecarError | undefined {
    const chain: Array<Error & { code?: unknown }> = [];
    for (let e = err; e instanceof Error && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
    const where = `Kafka at ${this.config.brokers.join(',')}`;
    const sasl = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError');
    if (sasl) return new SidecarError('KAFKA_REFUSED', `${where}: ${sasl.message}; check kafka.sasl.username and its password`, { cause: err });
    const network = chain.find((e) => /^KafkaJS(ConnectionError|BrokerNotFound|RequestTimeoutError)$/.test(e.name));
    if (network === undefined) return undefined;
    // kafkajs keeps the socket's code: E… for the network, a TLS verification code (SELF_SIGNED_CERT_IN_CHAIN…) otherwise.
    if (typeof network.code === 'string' && !/^E[A-Z]+$/.test(network.code)) {
      return new SidecarError('KAFKA_REFUSED', `${where}: ${network.message}; check kafka.ssl.ca (the CA that signed the broker's certificate)`, {
        cause: err,
      });
    }
    return new SidecarError('SERVER_UNREACHABLE', `${where}: ${network.message}; check kafka.brokers (env KAFKA_BROKERS)`, { cause: err, retriable: true });
  }

  private async ensureDeadLetterTopic(): Promise<void> {
    try {
      const topics = await this.admin.listTopics();
      if (!topics.includes(this.config.deadLetterTopic)) {
        await this.admin.createTopics({ topics: [{ topic: this.config.deadLetterTopic }], waitForLeaders: true });
        this.log.info('created dead-letter topic', { topic: this.config.deadLetterTopic });
      }
    } catch (err) {
      // Without the right to create topics the topic may still exist or be created by an operator: say so, go on.
      this.log.warn('could not check or create the dead-letter topic', { topic: this.config.deadLetterTopic, error: errorText(err) });
    }
  }

  private async highWatermarks(): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(this.config.topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  private caughtUp(target: Map<number, bigint>): boolean {
    for (const [partition, high] of target) {
      if (high === 0n) continue;
      if ((this.committed.get(partition) ?? -1n) < high) return false;
    }
    return true;
  }

  /**
   * A batch is cut into chunks of `batchSize`; for each: points are written and confirmed, dead letters produced, and
   * only then is the chunk's last offset resolved and committed. While InfluxDB is down the writer retries the chunk
   * under its one policy for as long as this member owns the partition and the feeder runs; nothing is skipped.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const high = BigInt(batch.highWatermark);
    const first = batch.messages[0];
    const entry = { messages: first ? Number(high - BigInt(first.offset)) : 0, oldestPendingMs: first ? Number(first.timestamp) : Number.NaN };
    this.lag.set(batch.partition, entry);
    // Aborted when the feeder stops or this member loses the partition: the writer then stops retrying the chunk.
    const owned = new AbortController();
    const signal = owned.signal;
    const onStop = () => owned.abort();
    if (this.stopSignal.aborted) owned.abort();
    else this.stopSignal.addEventListener('abort', onStop, { once: true });
    // Keeps the membership alive while a write waits for InfluxDB (a session timeout would rebalance). When the group
    // rebalances meanwhile, the chunk is let go (uncommitted) so this member rejoins at once instead of stalling the
    // group until its rebalance timeout.
    const keepAlive = setInterval(() => {
      if (!isRunning() || isStale()) owned.abort();
      else
        heartbeat().catch((err: { type?: string }) => {
          if (err.type !== undefined && GROUP_CHANGED.has(err.type)) owned.abort();
        });
    }, 3000);
    try {
      for (let i = 0; i < batch.messages.length; i += this.config.batchSize) {
        if (!isRunning() || isStale() || signal.aborted) return;
        const chunk = batch.messages.slice(i, i + this.config.batchSize);
        const now = Date.now();
        this.counters.add('read', chunk.length);
        this.windows.add('consumed', chunk.length, now);
        const work = this.classify(chunk);
        if (!(await this.deliver(work, batch.topic, batch.partition, signal))) return;
        const last = chunk[chunk.length - 1];
        resolveOffset(last.offset);
        await commitOffsetsIfNecessary();
        this.committed.set(batch.partition, BigInt(last.offset) + 1n);
        entry.messages = Math.max(0, Number(high - BigInt(last.offset) - 1n));
        // Past this batch the next message is unseen; it is no older than the last one committed, whose age is the
        // upper bound used until the next batch shows it.
        entry.oldestPendingMs = Number((batch.messages[i + this.config.batchSize] ?? last).timestamp);
        this.updateLag();
        const done = Date.now();
        this.windows.add('written', work.points.length, done);
        this.windows.add('filtered', work.filtered, done);
        this.windows.add('dead_lettered', work.deadLetters.length, done);
        await heartbeat();
      }
    } finally {
      clearInterval(keepAlive);
      this.stopSignal.removeEventListener('abort', onStop);
    }
    this.problems.report(this.log, { topic: batch.topic, partition: batch.partition });
  }

  /**
   * The feeder's lag in seconds, for the `feeder_lag_seconds` gauge: over the partitions this member owns, the age
   * (from its Kafka timestamp) of the oldest message not committed yet; 0 when caught up everywhere.
   */
  private updateLag(): void {
    const now = Date.now();
    let seconds = 0;
    for (const { messages, oldestPendingMs } of this.lag.values()) {
      if (messages > 0 && Number.isFinite(oldestPendingMs)) seconds = Math.max(seconds, (now - oldestPendingMs) / 1000);
    }
    this.counters.setLag(Math.max(0, Math.round(seconds * 1000) / 1000));
  }

  /** A new generation of the group: log what this member owns (and how long joining took); forget other partitions. */
  private joined(payload: { duration: number; memberId: string; isLeader: boolean; memberAssignment: Record<string, number[]> }): void {
    const partitions = payload.memberAssignment[this.config.topic] ?? [];
    for (const p of [...this.lag.keys()]) if (!partitions.includes(p)) this.lag.delete(p);
    this.log.info('joined the consumer group', {
      groupId: this.config.groupId,
      memberId: payload.memberId,
      leader: payload.isLeader,
      partitions,
      rebalanceMs: payload.duration,
    });
  }

  private classify(messages: KafkaMessage[]): Classified {
    const out: Classified = { points: [], deadLetters: [], filtered: 0 };
    const allowed = this.config.tenants;
    for (const message of messages) {
      const headerTenant = tenantFromHeaders(message.headers, this.config.tenantHeader);
      if (allowed.length > 0 && headerTenant !== undefined && !allowed.includes(headerTenant)) {
        out.filtered++;
        continue;
      }
      const r = summarize(message.value, message.timestamp, this.config.rules);
      if (!r.ok) {
        out.deadLetters.push({ message, reason: `${r.reason}: ${r.detail}` });
        this.problems.add(r.reason, `offset ${message.offset}: ${r.detail}`);
        continue;
      }
      if (allowed.length > 0 && headerTenant === undefined && (r.tenant === undefined || !allowed.includes(r.tenant))) {
        out.filtered++;
        continue;
      }
      if (!r.labelParsed) this.problems.add('entity label did not match labelPattern (tagged label_parse=failed)', `offset ${message.offset}`, 'written');
      out.points.push({ point: r.point, message });
    }
    this.counters.drop('filtered', out.filtered);
    return out;
  }

  /**
   * True once every point is in InfluxDB and every dead letter is in its topic; false if the feeder stopped or the
   * partition moved first (then nothing is committed and the next owner reads the chunk again).
   */
  private async deliver(work: Classified, topic: string, partition: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.sink.writeConfirmed(
        work.points.map((p) => p.point),
        { signal },
      );
    } catch (err) {
      if (signal.aborted) return false;
      // The writer retries until the signal aborts, so a retriable error here is unexpected: let kafkajs start over.
      if (isRetriable(err)) throw err;
      // InfluxDB refused these points (a 4xx): retrying cannot help, so their messages become dead letters.
      this.log.error('InfluxDB refused a chunk: dead-lettering its messages', { topic, partition, error: errorText(err) });
      work.deadLetters.push(...work.points.map(({ message }) => ({ message, reason: 'rejected by InfluxDB' })));
      work.points = [];
    }
    if (work.deadLetters.length > 0) await this.sendDeadLetters(work.deadLetters, topic, partition);
    return true;
  }

  private async sendDeadLetters(items: Array<{ message: KafkaMessage; reason: string }>, topic: string, partition: number): Promise<void> {
    await this.producer.send({
      topic: this.config.deadLetterTopic,
      acks: -1,
      messages: items.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          'dlq-reason': reason,
          'dlq-source-topic': topic,
          'dlq-source-partition': String(partition),
          'dlq-source-offset': message.offset,
        },
      })),
    });
    this.counters.drop('dead_lettered', items.length);
  }

  logStatus(): void {
    const now = Date.now();
    const c = this.counters.stats();
    this.log.info('kafka status', {
      windows: this.windows.summary(['consumed', 'written', 'filtered', 'dead_lettered'], now),
      lag: [...this.lag.values()].reduce((sum, p) => sum + p.messages, 0),
      totals: c,
    });
  }

  private async stop(): Promise<void> {
    await this.consumer.disconnect().catch((err) => this.log.warn('consumer disconnect failed', { error: errorText(err) }));
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    this.logStatus();
  }
}
