import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { sleep } from '../retry.js';
import { toLineProtocol, type FeedPoint } from './point.js';

/**
 * What every feeder shares: the counters, the sink interface (InfluxDB or stdout), and the loop that runs a pass
 * every interval until a signal stops it.
 */

export type CounterName = 'read' | 'written' | 'rejected' | 'retried' | 'dropped';

/**
 * Drop reasons that are losses: points read from the source that InfluxDB never accepted (given up after retries,
 * pushed out of a full retry buffer, still unaccepted when the feeder stopped). Together with `rejected` they make a
 * run fail. Every other reason is a source-side skip (a value that is not JSON, a filtered tenant, a dead letter).
 */
export const LOSS_REASONS: readonly string[] = ['retries_exhausted', 'buffer_full', 'shutdown'];

export interface CounterSnapshot {
  read: number;
  written: number;
  rejected: number;
  retried: number;
  /** Total of `droppedBy`. */
  dropped: number;
  droppedBy: Record<string, number>;
  /** How far behind its source the feeder is, in seconds (set by feeders that can tell, e.g. Kafka). */
  lagSeconds: number;
}

export interface Losses {
  /** rejected + every loss reason of `droppedBy`. */
  total: number;
  rejected: number;
  givenUp: Record<string, number>;
}

/**
 * The counters of one feeder process: the only place a feeder, its writer and its exporters count. `stats()` gives a
 * snapshot, `losses()` what decides the exit status; every change is also emitted as a `count` event
 * (`{ name, n, reason? }`, and `{ name: 'lag', n: seconds }` for the lag gauge) so a metrics exporter mirrors them
 * without polling.
 */
export class FeederCounters extends EventEmitter {
  private values: CounterSnapshot = { read: 0, written: 0, rejected: 0, retried: 0, dropped: 0, droppedBy: {}, lagSeconds: 0 };

  add(name: Exclude<CounterName, 'dropped'>, n = 1): void {
    if (n === 0) return;
    this.values[name] += n;
    if (this.listenerCount('count') > 0) this.emit('count', { name, n });
  }

  drop(reason: string, n = 1): void {
    if (n === 0) return;
    this.values.dropped += n;
    this.values.droppedBy[reason] = (this.values.droppedBy[reason] ?? 0) + n;
    if (this.listenerCount('count') > 0) this.emit('count', { name: 'dropped', n, reason });
  }

  /** A gauge, not a counter: the latest value wins. */
  setLag(seconds: number): void {
    this.values.lagSeconds = seconds;
    if (this.listenerCount('count') > 0) this.emit('count', { name: 'lag', n: seconds });
  }

  stats(): CounterSnapshot {
    return { ...this.values, droppedBy: { ...this.values.droppedBy } };
  }

  losses(): Losses {
    const givenUp: Record<string, number> = {};
    let total = this.values.rejected;
    for (const reason of LOSS_REASONS) {
      const n = this.values.droppedBy[reason] ?? 0;
      if (n > 0) givenUp[reason] = n;
      total += n;
    }
    return { total, rejected: this.values.rejected, givenUp };
  }
}

/**
 * Where points go. `write` hands points over (the sink retries and counts what it gives up); `writeConfirmed` resolves
 * only once InfluxDB accepted every one of the points. With a `signal` the sink keeps trying until it aborts, and
 * then rejects with a retriable error (the caller still holds the points, e.g. as uncommitted Kafka offsets).
 */
export interface PointSink {
  write(points: FeedPoint[]): void;
  writeConfirmed(points: FeedPoint[], opts?: { signal?: AbortSignal }): Promise<void>;
  /** Sends what is buffered (including lines waiting for a retry) and waits for the outcome. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** `--stdout`: line protocol on stdout instead of InfluxDB; "accepted" as soon as the lines are handed to stdout. */
export class StdoutSink implements PointSink {
  constructor(
    private readonly counters: FeederCounters,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  write(points: FeedPoint[]): void {
    const lines = points.map(toLineProtocol).filter((l): l is string => l !== undefined);
    if (lines.length === 0) return;
    this.out.write(lines.join('\n') + '\n');
    this.counters.add('written', lines.length);
    this.counters.drop('no_fields', points.length - lines.length);
  }

  async writeConfirmed(points: FeedPoint[]): Promise<void> {
    this.write(points);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.out.write('', () => resolve()));
  }
}

export interface LoopOptions {
  name: string;
  intervalMs: number;
  once: boolean;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Runs `pass` now and then every `intervalMs` (measured start to start, so a slow pass does not drift the schedule;
 * a pass longer than the interval makes the next one start at once, never two at a time). A failing pass is logged
 * and the loop goes on: a feeder survives a source that is down for a while.
 */
export async function runEvery(opts: LoopOptions, pass: () => Promise<void>): Promise<void> {
  for (;;) {
    const started = Date.now();
    try {
      await pass();
    } catch (err) {
      opts.log.error(`${opts.name} pass failed`, { error: errorText(err) });
      if (opts.once) throw err;
    }
    if (opts.once || opts.signal.aborted) return;
    await sleep(Math.max(0, started + opts.intervalMs - Date.now()), opts.signal);
    if (opts.signal.aborted) return;
  }
}

/** An AbortController aborted by the first SIGINT/SIGTERM; the second one exits at once. */
export function shutdownSignal(log: Logger): AbortController {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      log.warn(`second ${sig}: exiting without flushing`);
      process.exit(130);
    }
    log.info(`${sig}: stopping after the current pass and flushing`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Aggregates per-item problems of one pass (a key that is not JSON, a garbled reply) so each kind is logged once per
 * interval with a count and a few examples, not once per item. An item may be `skipped` (not written: counted as
 * dropped) or `written` with a flaw worth saying (no source time, a label that did not parse): the log says which.
 */
export class ProblemLog {
  private readonly byReason = new Map<string, { outcome: 'skipped' | 'written'; count: number; examples: string[] }>();

  constructor(private readonly maxExamples = 3) {}

  add(reason: string, example: string, outcome: 'skipped' | 'written' = 'skipped'): void {
    const key = `${outcome}\n${reason}`;
    const entry = this.byReason.get(key) ?? { outcome, count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < this.maxExamples) entry.examples.push(example);
    this.byReason.set(key, entry);
  }

  /** Logs one warning per reason and forgets them. */
  report(log: Logger, context: Record<string, unknown>): void {
    for (const [key, { outcome, count, examples }] of this.byReason) {
      const reason = key.slice(outcome.length + 1);
      log.warn(`${outcome} ${count} item(s): ${reason}`, { ...context, reason, outcome, count, examples });
    }
    this.byReason.clear();
  }

  get size(): number {
    return this.byReason.size;
  }
}
