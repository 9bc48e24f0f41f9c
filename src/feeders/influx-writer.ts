import { HttpError, InfluxDB, setLogger, type SendOptions, type Transport } from '@influxdata/influxdb-client';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay } from '../retry.js';
import type { FeederCounters, PointSink } from './feeder.js';
import type { InfluxTarget, WriterTuning } from './influx-config.js';
import { toLineProtocol, type FeedPoint } from './point.js';

/**
 * The one path to InfluxDB: batching, one retry policy, the counters, and a handle per `writeConfirmed` call. Nothing
 * retries around it. The client library gives the HTTP transport (auth, timeout, gzip, keep-alive); its WriteApi is
 * not used, because it reports outcomes by line text only, so two callers of an identical line could not be told apart.
 *
 * Lines travel as segments: the lines of one call, with the call's handle if it waits. A batch is up to `batchSize`
 * lines taken from the queue's head (a segment may be split; its handle then waits for every piece). A batch that
 * fails retriably (5xx, 429, network, timeout) goes back to the head of the queue and the writer waits out one backoff
 * (doubling from minRetryDelay to maxRetryDelay, jitter, a Retry-After wins) before sending anything again: an
 * InfluxDB that is down gets one request per backoff, not one per batch. A 4xx is final (`rejected`).
 *
 * Giving up: lines of `write` (a source that cannot give them again: a Redis pass, a router poll) after `maxRetries`
 * failed attempts or `maxRetryTime`, when pushed out of a full buffer (`maxBufferLines`, oldest first), or when the
 * feeder stopped (its signal) and the last attempt within the write timeout failed: each is counted as a loss and
 * logged. Lines of `writeConfirmed(points, {signal})` are retried until that signal aborts (Kafka: the feeder stops or
 * the partition moves), then the call rejects with INFLUX_WRITE_ABORTED and nothing is counted as lost: the caller
 * did not commit, so the source still has them.
 */

/** What a `writeConfirmed` caller waits on: its own, never shared with another call, even for identical lines. */
interface Delivery {
  /** Segments of this call not yet accepted (a split segment counts once per piece). */
  pieces: number;
  settled: boolean;
  signal?: AbortSignal;
  resolve(): void;
  reject(err: Error): void;
  unlisten?: () => void;
}

interface Segment {
  lines: string[];
  delivery?: Delivery;
  enqueuedAt: number;
  /** Failed attempts so far. */
  attempts: number;
}

interface Batch {
  segments: Segment[];
  lines: number;
}

export interface WriterOptions {
  /** The feeder's stop signal: once aborted, what is held gets one last attempt within the write timeout. */
  signal?: AbortSignal;
  /** The feeder's logger; the client library's own messages go through it too. */
  log: Logger;
}

/** Status codes worth another attempt: the server is busy, down or behind a proxy that is. Other 4xx are final. */
function retriable(err: unknown): boolean {
  return !(err instanceof HttpError) || err.statusCode === 429 || err.statusCode >= 500;
}

export class InfluxWriter implements PointSink {
  private readonly transport: Transport;
  private readonly path: string;
  private readonly sendOptions: SendOptions;
  private readonly log: Logger;
  private readonly queue: Segment[] = [];
  private queuedLines = 0;
  /** Lines whose fate is not known yet: queued or in flight. */
  private outstanding = 0;
  private inFlight = 0;
  /** Send a partial batch now (a caller waits, a flush, or a line waited `flushInterval`). */
  private urgent = false;
  private flushTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;
  /** Failed attempts in a row, for the backoff; an accepted batch resets it. */
  private failures = 0;
  private stopping = false;
  private shutdownTimer?: NodeJS.Timeout;
  private idleWaiters: Array<() => void> = [];
  private readonly onStop = () => this.stop();

  constructor(
    readonly target: InfluxTarget,
    private readonly tuning: WriterTuning,
    private readonly counters: FeederCounters,
    private readonly options: WriterOptions,
  ) {
    this.log = options.log;
    // The client logs through a console logger of its own (one per process) unless told otherwise: stderr stays JSON lines.
    setLogger({
      error: (message, err) => this.log.error(message, { error: err instanceof Error ? err.message : err }),
      warn: (message, err) => this.log.warn(message, { error: err instanceof Error ? err.message : err }),
    });
    this.transport = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs }).transport;
    this.path = `/api/v2/write?org=${encodeURIComponent(target.org)}&bucket=${encodeURIComponent(target.bucket)}&precision=ns`;
    this.sendOptions = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, gzipThreshold: 1000 };
    if (options.signal?.aborted) this.stopping = true;
    else options.signal?.addEventListener('abort', this.onStop, { once: true });
  }

  write(points: FeedPoint[]): void {
    const lines = this.toLines(points);
    if (lines.length === 0) return;
    this.enqueue({ lines, enqueuedAt: Date.now(), attempts: 0 });
    this.pump();
  }

  writeConfirmed(points: FeedPoint[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    const lines = this.toLines(points);
    if (lines.length === 0) return Promise.resolve();
    if (opts.signal?.aborted) return Promise.reject(abortedError(lines.length));
    return new Promise<void>((resolve, reject) => {
      const delivery: Delivery = { pieces: 1, settled: false, signal: opts.signal, resolve, reject };
      if (opts.signal) {
        const onAbort = () => this.abandon(delivery);
        opts.signal.addEventListener('abort', onAbort, { once: true });
        delivery.unlisten = () => opts.signal!.removeEventListener('abort', onAbort);
      }
      this.enqueue({ lines, delivery, enqueuedAt: Date.now(), attempts: 0 });
      // A caller is waiting: no reason to hold its lines for the flush interval.
      this.urgent = true;
      this.pump();
    });
  }

  /** Sends what is held and resolves once every line written so far is accepted or given up (an event, not a poll). */
  flush(): Promise<void> {
    this.urgent = true;
    this.pump();
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Flushes, then releases the timers. Until the feeder's signal aborts this waits under the retry policy (a `--once`
   * run rides out an outage up to maxRetryTime); after it, for at most the write timeout.
   */
  async close(): Promise<void> {
    await this.flush();
    this.options.signal?.removeEventListener('abort', this.onStop);
    clearTimeout(this.flushTimer);
    clearTimeout(this.backoffTimer);
    clearTimeout(this.shutdownTimer);
  }

  /** The feeder stops: no more waiting out backoffs; one last attempt, and what is still held after the write timeout is given up. */
  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.urgent = true;
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
    }
    this.shutdownTimer = setTimeout(() => {
      const lost: Segment[] = [];
      for (const segment of this.queue.splice(0)) {
        this.queuedLines -= segment.lines.length;
        if (segment.delivery?.signal) this.settleAborted(segment);
        else lost.push(segment);
      }
      this.giveUp(lost, 'shutdown', `the feeder stopped and InfluxDB did not accept them within ${this.target.timeoutMs} ms`);
      this.checkIdle();
    }, this.target.timeoutMs);
    this.pump();
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

  private enqueue(segment: Segment): void {
    this.queue.push(segment);
    this.queuedLines += segment.lines.length;
    this.outstanding += segment.lines.length;
    this.enforceBufferLimit();
  }

  /** Starts as many batches as allowed: full ones always, partial ones when urgent; never during a backoff. */
  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < (this.tuning.maxInFlight ?? 4) && this.backoffTimer === undefined) {
      if (this.queuedLines < this.tuning.batchSize && !this.urgent) break;
      this.send(this.takeBatch());
    }
    if (this.queue.length === 0) {
      this.urgent = false;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    } else if (this.flushTimer === undefined && !this.urgent) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.urgent = true;
        this.pump();
      }, this.tuning.flushIntervalMs);
    }
  }

  private takeBatch(): Batch {
    const batch: Batch = { segments: [], lines: 0 };
    while (this.queue.length > 0 && batch.lines < this.tuning.batchSize) {
      const head = this.queue[0];
      const room = this.tuning.batchSize - batch.lines;
      let piece: Segment;
      if (head.lines.length <= room) {
        piece = this.queue.shift()!;
      } else {
        piece = { ...head, lines: head.lines.slice(0, room) };
        head.lines = head.lines.slice(room);
        if (head.delivery) head.delivery.pieces++;
      }
      batch.segments.push(piece);
      batch.lines += piece.lines.length;
    }
    this.queuedLines -= batch.lines;
    return batch;
  }

  private send(batch: Batch): void {
    this.inFlight++;
    const body = batch.segments.map((s) => s.lines.join('\n')).join('\n');
    this.transport.request(this.path, body, this.sendOptions).then(
      () => this.accepted(batch),
      (err: unknown) => this.failed(batch, err),
    );
  }

  private accepted(batch: Batch): void {
    this.inFlight--;
    this.failures = 0;
    this.outstanding -= batch.lines;
    this.counters.add('written', batch.lines);
    for (const segment of batch.segments) {
      const d = segment.delivery;
      if (d && !d.settled && --d.pieces === 0) this.settle(d);
    }
    this.pump();
    this.checkIdle();
  }

  private failed(batch: Batch, err: unknown): void {
    this.inFlight--;
    const error = err instanceof Error ? err : new Error(String(err));
    if (!retriable(error)) {
      const status = (error as HttpError).statusCode;
      this.log.error('InfluxDB refused a batch', { status, error: error.message, lines: batch.lines });
      this.outstanding -= batch.lines;
      this.counters.add('rejected', batch.lines);
      const refused = new SidecarError('INFLUX_WRITE_REJECTED', `InfluxDB refused ${batch.lines} line(s) (HTTP ${status}): ${error.message}`);
      for (const segment of batch.segments) this.settle(segment.delivery, refused);
    } else {
      const delay = this.startBackoff(error);
      const now = Date.now();
      const again: Segment[] = [];
      const exhausted: Segment[] = [];
      const stopped: Segment[] = [];
      for (const segment of batch.segments) {
        segment.attempts++;
        if (segment.delivery?.signal) {
          if (segment.delivery.signal.aborted || segment.delivery.settled) this.settleAborted(segment);
          else again.push(segment);
        } else if (this.stopping) {
          stopped.push(segment);
        } else if (segment.attempts > this.tuning.maxRetries || now + delay > segment.enqueuedAt + this.tuning.maxRetryTimeMs) {
          exhausted.push(segment);
        } else {
          again.push(segment);
        }
      }
      this.giveUp(stopped, 'shutdown', `the feeder stopped and the last attempt failed: ${error.message}`);
      this.giveUp(
        exhausted,
        'retries_exhausted',
        `out of retries (maxRetries ${this.tuning.maxRetries}, maxRetryTime ${this.tuning.maxRetryTimeMs} ms); the last attempt: ${error.message}`,
      );
      const lines = again.reduce((n, s) => n + s.lines.length, 0);
      if (lines > 0) {
        this.log.warn('InfluxDB did not accept a batch: sending it again', { error: error.message, lines, attempt: this.failures, delayMs: delay });
        this.counters.add('retried', lines);
        this.queue.unshift(...again);
        this.queuedLines += lines;
        this.enforceBufferLimit();
      }
    }
    this.pump();
    this.checkIdle();
  }

  /** One backoff for the whole writer; a failure that lands while one runs does not lengthen it. */
  private startBackoff(error: Error): number {
    if (this.backoffTimer !== undefined) return this.tuning.minRetryDelayMs;
    this.failures++;
    const retryAfterMs = error instanceof HttpError ? error.retryAfter() * 1000 : 0;
    const delay =
      retryAfterMs > 0 ? retryAfterMs : backoffDelay(this.failures, { minDelayMs: this.tuning.minRetryDelayMs, maxDelayMs: this.tuning.maxRetryDelayMs });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.urgent = true;
      this.pump();
    }, delay);
    return delay;
  }

  /** Beyond `maxBufferLines` the oldest lines of `write` go first; confirmed ones stay (their callers bound them). */
  private enforceBufferLimit(): void {
    const pushedOut: Segment[] = [];
    for (let i = 0; this.queuedLines > this.tuning.maxBufferLines && i < this.queue.length; ) {
      const segment = this.queue[i];
      if (segment.delivery?.signal) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.queuedLines -= segment.lines.length;
      pushedOut.push(segment);
    }
    this.giveUp(pushedOut, 'buffer_full', `more than maxBufferLines (${this.tuning.maxBufferLines}) lines were waiting for InfluxDB`);
  }

  /** A loss: counted, logged once for the lot, and each waiting caller told. */
  private giveUp(segments: Segment[], reason: string, why: string): void {
    const n = segments.reduce((sum, s) => sum + s.lines.length, 0);
    if (n === 0) return;
    this.outstanding -= n;
    this.counters.drop(reason, n);
    this.log.error('points lost: InfluxDB did not accept them', { reason, lines: n, why });
    const err = new SidecarError('INFLUX_WRITE_DROPPED', `InfluxDB write given up (${reason}) for ${n} line(s): ${why}`, { retriable: true });
    for (const segment of segments) this.settle(segment.delivery, err);
  }

  /** The caller of a confirmed write stopped waiting: forget its queued pieces; they are not lost, it still has them. */
  private abandon(delivery: Delivery): void {
    let removed = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const segment = this.queue[i];
      if (segment.delivery !== delivery) continue;
      this.queue.splice(i, 1);
      this.queuedLines -= segment.lines.length;
      this.outstanding -= segment.lines.length;
      removed += segment.lines.length;
    }
    // Pieces in flight may still be accepted; if none were queued, the call waits for them.
    if (removed > 0 || delivery.pieces === 0) this.settle(delivery, abortedError(removed));
    this.checkIdle();
  }

  private settleAborted(segment: Segment): void {
    this.outstanding -= segment.lines.length;
    this.settle(segment.delivery, abortedError(segment.lines.length));
  }

  private settle(delivery: Delivery | undefined, err?: Error): void {
    if (!delivery || delivery.settled) return;
    delivery.settled = true;
    delivery.unlisten?.();
    if (err) delivery.reject(err);
    else delivery.resolve();
  }

  private checkIdle(): void {
    if (this.outstanding > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function abortedError(lines: number): SidecarError {
  return new SidecarError(
    'INFLUX_WRITE_ABORTED',
    `stopped waiting for InfluxDB to accept ${lines} line(s): the feeder is stopping or no longer owns their source`,
    {
      retriable: true,
    },
  );
}
