/**
 * Metrics and health for the sidecar and the feeders. Nothing outside this file imports prom-client: callers get small
 * typed recorders and call plain methods on them.
 *
 * Usage:
 *   const metrics = new Metrics();                         // one per process; owns its own prom-client Registry
 *   const fn = metrics.forFunction('edgeDetect');          // cached: call it per connection if convenient
 *   fn.connectionOpened(); ... fn.connectionClosed();      // gauge udf_sidecar_function_connections
 *   fn.pointsIn(1); fn.pointsOut(n); fn.initFailed(); fn.error(); fn.snapshot(bytes.length);
 *   const feeder = metrics.forFeeder('redis');
 *   feeder.read(n); feeder.written(n); feeder.rejected(n); feeder.retried(); feeder.dropped(n); feeder.lag(seconds);
 *   metrics.followFeeder('redis', counters);               // or: mirror an emitter of `count` events (FeederCounters)
 *
 *   const server = await startMetricsServer({ metrics, port: 9273, health: () => ({ ok: agent.listening }) }); // metrics-server.ts
 *   const status = startStatusLine({ metrics, logger, intervalMs: 60_000 });
 *   ...; status.stop(); await server.close();
 *
 * Counters are kept twice on purpose: in prom-client for scraping and as plain numbers for the status line, so the
 * status line is synchronous and does not depend on the exposition format.
 */
import client from 'prom-client';
import type { Logger } from './log.js';

export interface FunctionMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  pointsIn(n?: number): void;
  pointsOut(n?: number): void;
  initFailed(): void;
  error(): void;
  /** The size in bytes of a snapshot the function answered with. */
  snapshot(bytes: number): void;
  /** A connection refused or dropped before its Init (reason: limit, idle, crowded, accept). */
  connectionRefused(reason: string): void;
}

export interface FeederMetrics {
  read(n?: number): void;
  written(n?: number): void;
  /** Points InfluxDB refused (4xx): they will never be accepted, so they are counted apart from drops. */
  rejected(n?: number): void;
  retried(n?: number): void;
  /** Points given up on (retries exhausted, buffer full, invalid input). */
  dropped(n?: number): void;
  /** How far behind the source the feeder is, in seconds (e.g. Kafka consumer lag turned into time, or now - point time). */
  lag(seconds: number): void;
}

export interface FunctionCounts {
  connections: number;
  pointsIn: number;
  pointsOut: number;
  initFailures: number;
  errors: number;
  snapshots: number;
  lastSnapshotBytes: number;
}

export interface FeederCounts {
  read: number;
  written: number;
  rejected: number;
  retried: number;
  dropped: number;
  lagSeconds: number;
}

export interface MetricsSummary {
  functions: Record<string, FunctionCounts>;
  feeders: Record<string, FeederCounts>;
}

export interface CountEvent {
  name: string;
  n: number;
}

export interface CountSource {
  on(event: 'count', listener: (e: CountEvent) => void): unknown;
  off(event: 'count', listener: (e: CountEvent) => void): unknown;
}

const COUNT_EVENTS: Record<string, (r: FeederMetrics, n: number) => void> = {
  read: (r, n) => r.read(n),
  written: (r, n) => r.written(n),
  rejected: (r, n) => r.rejected(n),
  retried: (r, n) => r.retried(n),
  dropped: (r, n) => r.dropped(n),
  // A gauge riding on the same event: `n` is the latest lag in seconds.
  lag: (r, n) => r.lag(n),
};

const SNAPSHOT_BUCKETS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly functions = new Map<string, FunctionMetrics>();
  private readonly feeders = new Map<string, FeederMetrics>();
  private readonly functionCounts = new Map<string, FunctionCounts>();
  private readonly feederCounts = new Map<string, FeederCounts>();

  private readonly fnConnections: client.Gauge<'function'>;
  private readonly fnPointsIn: client.Counter<'function'>;
  private readonly fnPointsOut: client.Counter<'function'>;
  private readonly fnInitFailures: client.Counter<'function'>;
  private readonly fnErrors: client.Counter<'function'>;
  private readonly fnSnapshotBytes: client.Histogram<'function'>;
  private readonly fnRefused: client.Counter<'function' | 'reason'>;
  private readonly fdRead: client.Counter<'feeder'>;
  private readonly fdWritten: client.Counter<'feeder'>;
  private readonly fdRejected: client.Counter<'feeder'>;
  private readonly fdRetried: client.Counter<'feeder'>;
  private readonly fdDropped: client.Counter<'feeder'>;
  private readonly fdLag: client.Gauge<'feeder'>;
  private readonly tasksHealed: client.Counter<'task'>;
  private readonly taskHealFailures: client.Counter<'task'>;

  /** `defaultMetrics` adds Node's process metrics (event loop lag, heap, fds) — useful in the sidecar, noise in tests. */
  constructor(options: { defaultMetrics?: boolean; prefix?: string } = {}) {
    const p = options.prefix ?? 'udf_sidecar_';
    const registers = [this.registry];
    const fn = ['function'] as const;
    const fd = ['feeder'] as const;
    this.fnConnections = new client.Gauge({ name: `${p}function_connections`, help: 'Open Kapacitor connections per function', labelNames: fn, registers });
    this.fnPointsIn = new client.Counter({ name: `${p}function_points_in_total`, help: 'Points received from Kapacitor', labelNames: fn, registers });
    this.fnPointsOut = new client.Counter({ name: `${p}function_points_out_total`, help: 'Points sent back to Kapacitor', labelNames: fn, registers });
    this.fnInitFailures = new client.Counter({
      name: `${p}function_init_failures_total`,
      help: 'Init requests answered with success=false',
      labelNames: fn,
      registers,
    });
    this.fnErrors = new client.Counter({ name: `${p}function_errors_total`, help: 'Connections ended by an error', labelNames: fn, registers });
    this.fnSnapshotBytes = new client.Histogram({
      name: `${p}function_snapshot_bytes`,
      help: 'Size of snapshots answered',
      labelNames: fn,
      buckets: SNAPSHOT_BUCKETS,
      registers,
    });
    this.fnRefused = new client.Counter({
      name: `${p}function_connections_refused_total`,
      help: 'Connections refused or dropped before Init',
      labelNames: ['function', 'reason'],
      registers,
    });
    this.fdRead = new client.Counter({ name: `${p}feeder_points_read_total`, help: 'Points read from the source', labelNames: fd, registers });
    this.fdWritten = new client.Counter({ name: `${p}feeder_points_written_total`, help: 'Points accepted by InfluxDB', labelNames: fd, registers });
    this.fdRejected = new client.Counter({ name: `${p}feeder_points_rejected_total`, help: 'Points refused by InfluxDB', labelNames: fd, registers });
    this.fdRetried = new client.Counter({ name: `${p}feeder_write_retries_total`, help: 'Write attempts retried', labelNames: fd, registers });
    this.fdDropped = new client.Counter({ name: `${p}feeder_points_dropped_total`, help: 'Points given up on', labelNames: fd, registers });
    this.fdLag = new client.Gauge({ name: `${p}feeder_lag_seconds`, help: 'How far behind its source a feeder is', labelNames: fd, registers });
    this.tasksHealed = new client.Counter({
      name: `${p}tasks_healed_total`,
      help: 'Kapacitor tasks restarted because no connection of theirs was live',
      labelNames: ['task'],
      registers,
    });
    this.taskHealFailures = new client.Counter({
      name: `${p}task_heal_failures_total`,
      help: 'Task restarts that did not bring a connection back',
      labelNames: ['task'],
      registers,
    });
    if (options.defaultMetrics) client.collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** A task the sidecar restarted (healing), and one whose restart did not bring its connection back. */
  taskHealed(task: string): void {
    this.tasksHealed.inc({ task });
  }

  taskHealFailed(task: string): void {
    this.taskHealFailures.inc({ task });
  }

  forFunction(name: string): FunctionMetrics {
    let recorder = this.functions.get(name);
    if (recorder) return recorder;
    const c: FunctionCounts = { connections: 0, pointsIn: 0, pointsOut: 0, initFailures: 0, errors: 0, snapshots: 0, lastSnapshotBytes: 0 };
    this.functionCounts.set(name, c);
    const l = { function: name };
    // Touch every series so a function shows up with zeros before its first connection: absent != 0 in alerts.
    for (const m of [this.fnConnections, this.fnPointsIn, this.fnPointsOut, this.fnInitFailures, this.fnErrors]) m.inc(l, 0);
    recorder = {
      connectionOpened: () => {
        c.connections++;
        this.fnConnections.inc(l);
      },
      connectionClosed: () => {
        c.connections--;
        this.fnConnections.dec(l);
      },
      pointsIn: (n = 1) => {
        c.pointsIn += n;
        this.fnPointsIn.inc(l, n);
      },
      pointsOut: (n = 1) => {
        c.pointsOut += n;
        this.fnPointsOut.inc(l, n);
      },
      initFailed: () => {
        c.initFailures++;
        this.fnInitFailures.inc(l);
      },
      error: () => {
        c.errors++;
        this.fnErrors.inc(l);
      },
      snapshot: (bytes) => {
        c.snapshots++;
        c.lastSnapshotBytes = bytes;
        this.fnSnapshotBytes.observe(l, bytes);
      },
      connectionRefused: (reason) => this.fnRefused.inc({ function: name, reason }),
    };
    this.functions.set(name, recorder);
    return recorder;
  }

  forFeeder(name: string): FeederMetrics {
    let recorder = this.feeders.get(name);
    if (recorder) return recorder;
    const c: FeederCounts = { read: 0, written: 0, rejected: 0, retried: 0, dropped: 0, lagSeconds: 0 };
    this.feederCounts.set(name, c);
    const l = { feeder: name };
    for (const m of [this.fdRead, this.fdWritten, this.fdRejected, this.fdRetried, this.fdDropped]) m.inc(l, 0);
    this.fdLag.set(l, 0);
    recorder = {
      read: (n = 1) => {
        c.read += n;
        this.fdRead.inc(l, n);
      },
      written: (n = 1) => {
        c.written += n;
        this.fdWritten.inc(l, n);
      },
      rejected: (n = 1) => {
        c.rejected += n;
        this.fdRejected.inc(l, n);
      },
      retried: (n = 1) => {
        c.retried += n;
        this.fdRetried.inc(l, n);
      },
      dropped: (n = 1) => {
        c.dropped += n;
        this.fdDropped.inc(l, n);
      },
      lag: (seconds) => {
        c.lagSeconds = seconds;
        this.fdLag.set(l, seconds);
      },
    };
    this.feeders.set(name, recorder);
    return recorder;
  }

  /**
   * Feeds a feeder's metrics from an emitter of `count` events ({ name: read|written|rejected|retried|dropped|lag, n }),
   * the shape of the feeders' FeederCounters, so a feeder needs no change to be scraped. Returns the unsubscribe.
   */
  followFeeder(name: string, source: CountSource): () => void {
    const recorder = this.forFeeder(name);
    const listener = (e: CountEvent) => {
      const record = COUNT_EVENTS[e.name];
      if (record) record(recorder, e.n);
    };
    source.on('count', listener);
    return () => source.off('count', listener);
  }

  /** A copy of the current counts, for the status line and for tests. */
  summary(): MetricsSummary {
    const copy = <T extends object>(m: Map<string, T>) => Object.fromEntries([...m].map(([k, v]) => [k, { ...v }]));
    return { functions: copy(this.functionCounts), feeders: copy(this.feederCounts) };
  }

  /** The Prometheus exposition text. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Logs one `status` line per interval with the totals and what changed since the previous line, so a log reader sees
 * throughput without a Prometheus server. The timer is unref'd: it never keeps the process alive on its own.
 */
export function startStatusLine(options: { metrics: Metrics; logger: Logger; intervalMs: number }): { stop(): void } {
  let previous = options.metrics.summary();
  const timer = setInterval(() => {
    const current = options.metrics.summary();
    options.logger.info('status', statusFields(previous, current, options.intervalMs));
    previous = current;
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The status line's fields: totals per function and feeder plus per-second rates over the interval. Pure. */
export function statusFields(previous: MetricsSummary, current: MetricsSummary, intervalMs: number): Record<string, unknown> {
  const perSecond = (now: number, before: number | undefined) => Math.round(((now - (before ?? 0)) * 1000 * 100) / intervalMs) / 100;
  const functions = Object.fromEntries(
    Object.entries(current.functions).map(([name, c]) => {
      const p = previous.functions[name];
      return [name, { ...c, pointsInPerSec: perSecond(c.pointsIn, p?.pointsIn), pointsOutPerSec: perSecond(c.pointsOut, p?.pointsOut) }];
    }),
  );
  const feeders = Object.fromEntries(
    Object.entries(current.feeders).map(([name, c]) => {
      const p = previous.feeders[name];
      return [name, { ...c, writtenPerSec: perSecond(c.written, p?.written) }];
    }),
  );
  return { functions, feeders };
}
