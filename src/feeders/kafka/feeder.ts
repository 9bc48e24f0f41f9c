import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer } from 'kafkajs';
import { SidecarError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isRetriable, retry } from '../../retry.js';
import { errorText, ProblemLog, type FeederCounters, type PointSink } from '../feeder.js';
import { deadLetters, ensureDeadLetterTopic, kafkaLogCreator, kafkaStartError } from './client.js';
import { type Chunk, PartitionCommits } from './commits.js';
import type { KafkaFeederConfig } from './config.js';
import { type Classified, classify } from './transform.js';
import { WindowedCounts } from './windows.js';

/** Heartbeat answers that mean the group moved on: this member must rejoin before it can commit anything. */
const GROUP_CHANGED = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

interface PartitionState {
  partition: number;
  commits: PartitionCommits;
  /** Aborted when the feeder stops, the group changes or the partition starts over: its chunks are let go. */
  owned: AbortController;
  /** The fetch position its first batch began at: what the next owner reads from if nothing is committed. */
  start: bigint;
  committed?: bigint;
  high: bigint;
  /** Kafka timestamp of the message after the last chunk begun (or of that chunk's last message). */
  nextUnseenMs: number;
  written: Promise<unknown>; // its last chunk's delivery: the next is written after it, in offset order
}

export class KafkaFeeder {
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly windows = new WindowedCounts();
  private stopSignal: AbortSignal = new AbortController().signal;
  /** The partitions this member reads in the current generation of the group. */
  private readonly partitions = new Map<number, PartitionState>();
  /** Chunks whose delivery started and has not ended, over all partitions. */
  private inFlight = 0;
  private slotWaiters: Array<() => void> = [];
  /** The offset to commit next, per partition, and the partition state it belongs to. */
  private readonly wantedCommits = new Map<number, { offset: bigint; state: PartitionState }>();
  /** The commit request being made, if one is, and the timer of the next try after one failed. */
  private committing: Promise<void> | undefined;
  private commitRetry?: NodeJS.Timeout;
  private commitOffsets?: EachBatchPayload['commitOffsetsIfNecessary'];
  /** Offset committed last per partition (the next one to read), for `--once`. */
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
      logCreator: kafkaLogCreator(log.child({ component: 'kafkajs' })),
    });
    this.consumer = this.kafka.consumer({ groupId: config.groupId, sessionTimeout: config.sessionTimeoutMs, allowAutoTopicCreation: false });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.admin = this.kafka.admin();
  }

  async run(opts: { once: boolean; signal: AbortSignal }): Promise<void> {
    this.stopSignal = opts.signal;
    opts.signal.addEventListener('abort', () => this.forgetPartitions(), { once: true });
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
        // Resolving moves the fetch position only; this feeder commits itself, in order, after InfluxDB accepted.
        eachBatchAutoResolve: false,
        autoCommit: false,
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
      await ensureDeadLetterTopic(this.admin, this.config.deadLetterTopic, this.log);
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [this.config.topic], fromBeginning: this.config.fromBeginning });
    } catch (err) {
      throw kafkaStartError(err, this.config.brokers) ?? err;
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
   * A batch is cut into chunks of `batchSize`, each classified and its delivery started (points to the writer, dead
   * letters to their topic) while the next is read: up to `chunksInFlight` chunks of all partitions are out together
   * (when that many are out, this waits, heartbeating), a partition's written in offset order, each after the one
   * before it was answered, so a stream task sees its points in that order. The kafkajs fetch position moves on as
   * chunks begin (resolveOffset), but commits are this feeder's own (autoCommit off): a partition's offset is
   * committed only past a prefix of chunks all delivered (PartitionCommits).
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, isRunning, isStale } = payload;
    this.commitOffsets = payload.commitOffsetsIfNecessary;
    const state = this.partitionState(batch.partition, batch.messages[0]?.offset);
    state.high = BigInt(batch.highWatermark);
    for (let i = 0; i < batch.messages.length; i += this.config.batchSize) {
      if (!(await this.slot(payload, state))) return;
      const chunk = batch.messages.slice(i, i + this.config.batchSize);
      const first = chunk[0];
      const last = chunk[chunk.length - 1];
      this.counters.add('read', chunk.length);
      this.windows.add('consumed', chunk.length, Date.now());
      const work = classify(chunk, this.config, this.problems);
      this.counters.drop('filtered', work.filtered);
      const ticket = state.commits.begin(BigInt(last.offset) + 1n, Number(first.timestamp));
      state.nextUnseenMs = Number((batch.messages[i + this.config.batchSize] ?? last).timestamp);
      this.inFlight++;
      resolveOffset(last.offset);
      const deliver = () => this.deliver(work, batch.topic, batch.partition, state.owned.signal);
      state.written = state.written.then(deliver, deliver).then(
        (delivered) => this.finished(state, ticket, work, delivered ? undefined : 'aborted'),
        (err: unknown) => this.finished(state, ticket, work, err),
      );
      if (!isRunning() || isStale()) break;
    }
    this.problems.report(this.log, { topic: batch.topic, partition: batch.partition });
  }

  /** This generation's view of a partition, made when its first batch arrives (at the fetch position, `start`). */
  private partitionState(partition: number, start: string | undefined): PartitionState {
    let state = this.partitions.get(partition);
    if (state === undefined) {
      const owned = new AbortController();
      if (this.stopSignal.aborted) owned.abort();
      state = {
        partition,
        commits: new PartitionCommits(),
        owned,
        start: BigInt(start ?? '0'),
        high: 0n,
        nextUnseenMs: Number.NaN,
        written: Promise.resolve(),
      };
      this.partitions.set(partition, state);
    }
    return state;
  }

  /**
   * Waits until fewer than `chunksInFlight` chunks are out, heartbeating so the group keeps this member while
   * InfluxDB is slow or down. False when the chunk should not be read: the feeder stops, the partition moved or the
   * group changed (the next owner, or this member after rejoining, reads from the last commit).
   */
  private async slot(payload: EachBatchPayload, state: PartitionState): Promise<boolean> {
    const usable = () => payload.isRunning() && !payload.isStale() && !state.owned.signal.aborted;
    while (usable() && this.inFlight >= this.config.chunksInFlight) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.slotWaiters = this.slotWaiters.filter((w) => w !== wake);
          resolve();
        };
        const timer = setTimeout(wake, 1000);
        this.slotWaiters.push(wake);
      });
      await payload.heartbeat().catch((err: { type?: string }) => {
        if (err.type !== undefined && GROUP_CHANGED.has(err.type)) this.forgetPartitions();
      });
    }
    return usable();
  }

  /**
   * A chunk's delivery ended. Delivered: the partition's commit moves past every delivered prefix. Not delivered
   * because the feeder stops or the partition moved: nothing more of it commits (its state is aborted already). Not
   * delivered for another reason (a dead letter could not be sent): the partition starts over from its last commit.
   */
  private finished(state: PartitionState, ticket: Chunk, work: Classified, outcome: unknown): void {
    this.inFlight--;
    this.slotWaiters[0]?.();
    if (outcome === undefined) {
      const done = Date.now();
      this.windows.add('written', work.points.length, done);
      this.windows.add('filtered', work.filtered, done);
      this.windows.add('dead_lettered', work.deadLetters.length, done);
      const next = state.commits.deliver(ticket);
      if (next !== undefined && this.partitions.get(state.partition) === state) {
        this.wantedCommits.set(state.partition, { offset: next, state });
        this.flushCommits();
      }
      return;
    }
    state.commits.fail();
    if (state.owned.signal.aborted || this.partitions.get(state.partition) !== state) return;
    state.owned.abort();
    this.partitions.delete(state.partition);
    const from = (state.commits.committable ?? state.start).toString();
    this.log.error('a chunk could not be delivered: reading the partition again from its last commit', {
      topic: this.config.topic,
      partition: state.partition,
      offset: from,
      error: errorText(outcome),
    });
    try {
      this.consumer.seek({ topic: this.config.topic, partition: state.partition, offset: from });
    } catch (err) {
      // The consumer stopped meanwhile: nothing was committed past `from`, so the next start reads it again.
      this.log.warn('could not seek the partition back', { partition: state.partition, error: errorText(err) });
    }
  }

  /**
   * Commits what is wanted, one request at a time (so a partition's commits reach Kafka in order), the latest offset
   * of every partition together. A commit that fails is tried again a second later; until then the offsets stay
   * uncommitted, which costs a re-read, never a loss.
   */
  private flushCommits(): void {
    if (this.committing || this.commitRetry) return;
    this.committing = this.commitWanted().finally(() => {
      this.committing = undefined;
      // Wanted while the last request was on its way (and after its loop looked): send it now.
      if (this.wantedCommits.size > 0) this.flushCommits();
    });
  }

  private async commitWanted(): Promise<void> {
    while (this.wantedCommits.size > 0 && this.commitOffsets) {
      const batch = [...this.wantedCommits].filter(([p, w]) => this.partitions.get(p) === w.state && !w.state.owned.signal.aborted);
      this.wantedCommits.clear();
      if (batch.length === 0) return;
      const partitions = batch.map(([partition, w]) => ({ partition, offset: w.offset.toString() }));
      try {
        await this.commitOffsets({ topics: [{ topic: this.config.topic, partitions }] });
      } catch (err) {
        for (const [p, w] of batch) if (!this.wantedCommits.has(p)) this.wantedCommits.set(p, w);
        this.log.warn('could not commit offsets: trying again', { partitions, error: errorText(err) });
        if (this.stopSignal.aborted) this.wantedCommits.clear();
        else
          this.commitRetry = setTimeout(() => {
            this.commitRetry = undefined;
            this.flushCommits();
          }, 1000);
        return;
      }
      for (const [p, w] of batch) {
        w.state.committed = w.offset;
        this.committed.set(p, w.offset);
      }
      this.updateLag();
    }
  }

  /** The group changed or the feeder stops: every chunk on its way is let go uncommitted. */
  private forgetPartitions(): void {
    clearTimeout(this.commitRetry);
    this.commitRetry = undefined;
    for (const state of this.partitions.values()) state.owned.abort();
    this.partitions.clear();
    this.wantedCommits.clear();
  }

  /**
   * The feeder's lag in seconds, for the `feeder_lag_seconds` gauge: over the partitions this member owns, the age
   * (from its Kafka timestamp) of the oldest message not committed yet; 0 when caught up everywhere.
   */
  private updateLag(): void {
    const now = Date.now();
    let seconds = 0;
    for (const p of this.partitions.values()) {
      if (p.high - (p.committed ?? p.start) <= 0n) continue;
      // Past the chunks begun the next message is unseen; it is no older than the last one read, whose age is the
      // upper bound used until the next batch shows it.
      const oldest = p.commits.oldestPendingMs ?? p.nextUnseenMs;
      if (Number.isFinite(oldest)) seconds = Math.max(seconds, (now - oldest) / 1000);
    }
    this.counters.setLag(Math.max(0, Math.round(seconds * 1000) / 1000));
  }

  /** A new generation of the group: log what this member owns (and how long joining took); forget other partitions. */
  private joined(payload: { duration: number; memberId: string; isLeader: boolean; memberAssignment: Record<string, number[]> }): void {
    const partitions = payload.memberAssignment[this.config.topic] ?? [];
    // A new generation starts every owned partition from its committed offset: what was on its way is let go.
    this.forgetPartitions();
    this.log.info('joined the consumer group', {
      groupId: this.config.groupId,
      memberId: payload.memberId,
      leader: payload.isLeader,
      partitions,
      rebalanceMs: payload.duration,
    });
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
      // The writer retries until the signal aborts, so a retriable error here is unexpected: the partition starts over.
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
    await this.producer.send({ topic: this.config.deadLetterTopic, acks: -1, messages: deadLetters(items, topic, partition) });
    this.counters.drop('dead_lettered', items.length);
  }

  logStatus(): void {
    const now = Date.now();
    const c = this.counters.stats();
    this.log.info('kafka status', {
      windows: this.windows.summary(['consumed', 'written', 'filtered', 'dead_lettered'], now),
      lag: [...this.partitions.values()].reduce((sum, p) => sum + Number(p.high - (p.committed ?? p.start)), 0),
      totals: c,
    });
  }

  private async stop(): Promise<void> {
    await this.committing;
    await this.consumer.disconnect().catch((err) => this.log.warn('consumer disconnect failed', { error: errorText(err) }));
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    this.logStatus();
  }
}
