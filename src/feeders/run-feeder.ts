/**
 * What `feed NAME` runs once its options are parsed (src/feeders/cli.ts defines the commands): the config read whole,
 * the sink (InfluxDB, or stdout), the feeder, the metrics server, and the exit that reports lost points. Loaded only
 * when a feeder runs, so that `serve` and `run` processes never load the Kafka, Redis and SSH clients.
 */
import { type ConfigSection, loadConfigFile } from '../config.js';
import { SidecarError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { type MetricsServer, startMetricsServer } from '../metrics-server.js';
import { FeederCounters, shutdownSignal, StdoutSink, type PointSink } from './feeder.js';
import { readExecConfig } from './exec/config.js';
import { ExecFeeder } from './exec/feeder.js';
import { checkInfluxPing, checkTcp, redisAddress, ReachabilityMonitor, type Target } from './health.js';
import { readInfluxConfig } from './influx-config.js';
import { InfluxWriter } from './influx-writer.js';
import { readKafkaConfig } from './kafka/config.js';
import { KafkaFeeder } from './kafka/feeder.js';
import { readRedisConfig } from './redis/config.js';
import { RedisFeeder } from './redis/feeder.js';
import type { Shard } from './redis/shard.js';
import { readRouterConfig } from './router/config.js';
import { RouterFeeder } from './router/feeder.js';

export type FeederName = 'redis' | 'kafka' | 'router' | 'exec';

interface Feeder {
  run(opts: { once: boolean; signal: AbortSignal }): Promise<void>;
  close?(): Promise<void>;
}

type FeederFactory = (root: ConfigSection, sink: PointSink, counters: FeederCounters, log: Logger, opts: FeedOptions) => Feeder;

/** What a feeder reads from, as host:port addresses for its health checks. */
type SourceAddresses = (root: ConfigSection) => string[];

/** A feeder without `sources` (exec: it runs local programs) has only InfluxDB among its health checks. */
const FEEDERS: Record<FeederName, { create: FeederFactory; sources?: SourceAddresses }> = {
  redis: {
    create: (root, sink, counters, log, opts) => new RedisFeeder(readRedisConfig(root), sink, counters, log, { shard: opts.shard }),
    sources: (root) => [redisAddress(readRedisConfig(root).url)],
  },
  kafka: {
    create: (root, sink, counters, log) => new KafkaFeeder(readKafkaConfig(root), sink, counters, log),
    sources: (root) => readKafkaConfig(root).brokers,
  },
  router: {
    create: (root, sink, counters, log) => new RouterFeeder(readRouterConfig(root), sink, counters, log),
    sources: (root) => readRouterConfig(root).routers.map((r) => `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`),
  },
  exec: {
    create: (root, sink, counters, log) => new ExecFeeder(readExecConfig(root), sink, counters, log),
  },
};

export interface FeedOptions {
  config?: string;
  sampleConfig?: boolean;
  stdout?: boolean;
  once?: boolean;
  metricsPort?: number;
  shard?: Shard;
  metricsHost?: string;
  unhealthyAfter?: number;
}

export async function runFeeder(name: FeederName, opts: FeedOptions & { config: string }): Promise<void> {
  const { create, sources } = FEEDERS[name];
  const log = createLogger(`feed-${name}`);
  const { root } = loadConfigFile(opts.config);
  const counters = new FeederCounters();
  const stop = shutdownSignal(log);
  // Config is read entirely before anything connects, so every config error surfaces at start.
  const sink: PointSink = opts.stdout ? new StdoutSink(counters) : influxSink(root, counters, stop.signal, log);
  const feeder = create(root, sink, counters, log, opts);
  root.checkKnownKeys();
  let metricsServer: MetricsServer | undefined;
  let monitor: ReachabilityMonitor | undefined;
  if (opts.metricsPort !== undefined) {
    const metrics = new Metrics();
    metrics.followFeeder(name, counters);
    const targets: Target[] = [];
    if (sources) targets.push({ name: 'source', addresses: sources(root), check: checkTcp });
    if (!opts.stdout) targets.push({ name: 'influxdb', addresses: [readInfluxConfig(root.section('influxdb')).target.url], check: checkInfluxPing });
    const unhealthyAfterMs = opts.unhealthyAfter ?? 120_000;
    monitor = new ReachabilityMonitor(targets, { unhealthyAfterMs, intervalMs: Math.min(5000, Math.max(500, unhealthyAfterMs / 4)), timeoutMs: 2000 });
    monitor.start();
    const stopping = { ok: false, reason: 'stopping' };
    metricsServer = await startMetricsServer({
      metrics,
      port: opts.metricsPort,
      host: opts.metricsHost,
      health: () => (stop.signal.aborted ? stopping : monitor!.liveness()),
      ready: () => (stop.signal.aborted ? stopping : monitor!.readiness()),
    });
  }
  log.info('starting', {
    config: opts.config,
    once: Boolean(opts.once),
    stdout: Boolean(opts.stdout),
    metrics: metricsServer?.url,
    shard: opts.shard && `${opts.shard.index}/${opts.shard.count}`,
  });
  try {
    await feeder.run({ once: Boolean(opts.once), signal: stop.signal });
  } finally {
    // A --once run stops after its pass as on SIGTERM: the writer makes its last attempt within the write timeout
    // rather than riding out an outage, so a cron job never overlaps the next one and a failure shows at once.
    if (opts.once) stop.abort();
    await feeder.close?.();
    await sink.close();
    monitor?.stop();
    await metricsServer?.close();
    log.info('stopped', { counters: counters.stats() });
  }
  // After close: the last batch is flushed there, and its fate counts too.
  failOnLostPoints(counters);
}

/**
 * A run (a cron job, a check, or a feeder stopped by its supervisor) must not report success when points it read never
 * reached InfluxDB: refused (4xx, e.g. a bad token), given up after retries, pushed out of a full buffer, or still
 * unaccepted at shutdown. Source-side skips (non-JSON values, garbled replies, filtered tenants) are expected and
 * counted, not failures.
 */
function failOnLostPoints(counters: FeederCounters): void {
  const lost = counters.losses();
  if (lost.total === 0) return;
  const parts = [
    lost.rejected > 0 ? `${lost.rejected} refused by InfluxDB` : '',
    ...Object.entries(lost.givenUp).map(([reason, n]) => `${n} given up (${reason})`),
  ];
  throw new SidecarError(
    'POINTS_LOST',
    `${lost.total} point(s) read but not written to InfluxDB: ${parts.filter(Boolean).join(', ')} (the log above says why)`,
  );
}

function influxSink(root: ConfigSection, counters: FeederCounters, signal: AbortSignal, log: Logger): InfluxWriter {
  const { target, tuning } = readInfluxConfig(root.section('influxdb'));
  return new InfluxWriter(target, tuning, counters, { signal, log: log.child({ component: 'influx-writer' }) });
}
