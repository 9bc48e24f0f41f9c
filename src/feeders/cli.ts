import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfigFile, type ConfigSection } from '../config.js';
import { durationMsArg } from '../cli-args.js';
import { SidecarError, UsageError } from '../errors.js';
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
import { parseShard, RedisFeeder, type Shard } from './redis/feeder.js';
import { readRouterConfig } from './router/config.js';
import { RouterFeeder } from './router/feeder.js';

/**
 * `feed redis|kafka|router|exec --config FILE [--stdout] [--once]`. A config error throws a ConfigError (the program exits
 * 2 with the key and the file); otherwise a feeder runs until SIGINT/SIGTERM, then flushes what it holds and exits.
 */

interface Feeder {
  run(opts: { once: boolean; signal: AbortSignal }): Promise<void>;
  close?(): Promise<void>;
}

type FeederFactory = (root: ConfigSection, sink: PointSink, counters: FeederCounters, log: Logger, opts: FeedOptions) => Feeder;

/** What a feeder reads from, as host:port addresses for its health checks. */
type SourceAddresses = (root: ConfigSection) => string[];

/** A feeder without `sources` (exec: it runs local programs) has only InfluxDB among its health checks. */
const FEEDERS: Record<string, { description: string; create: FeederFactory; sources?: SourceAddresses }> = {
  redis: {
    description: 'read the building-management Redis every interval (SCAN + MGET) and write its families as points',
    create: (root, sink, counters, log, opts) => new RedisFeeder(readRedisConfig(root), sink, counters, log, { shard: opts.shard }),
    sources: (root) => [redisAddress(readRedisConfig(root).url)],
  },
  kafka: {
    description: 'consume monitoring notifications; commit offsets only after InfluxDB accepted their points',
    create: (root, sink, counters, log) => new KafkaFeeder(readKafkaConfig(root), sink, counters, log),
    sources: (root) => readKafkaConfig(root).brokers,
  },
  router: {
    description: 'poll ADSL routers over SSH (show adsl status) and write adsl_connection points',
    create: (root, sink, counters, log) => new RouterFeeder(readRouterConfig(root), sink, counters, log),
    sources: (root) => readRouterConfig(root).routers.map((r) => `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`),
  },
  exec: {
    description: 'run check scripts every interval (no shell unless asked) and write what they print as points',
    create: (root, sink, counters, log) => new ExecFeeder(readExecConfig(root), sink, counters, log),
  },
};

export function registerFeedCommands(program: Command): void {
  const feed = program.command('feed').description('feeders: Redis, Kafka, routers and check scripts into InfluxDB');
  for (const [name, { description, create, sources }] of Object.entries(FEEDERS)) {
    const cmd = feed
      .command(name)
      .description(description)
      .option('-c, --config <file>', 'YAML config file (${VAR} and env overrides: see docs/feeders.md)')
      .option('--sample-config', 'print a commented example config (it parses as it is) and exit')
      .option('--stdout', 'print line protocol on stdout instead of writing to InfluxDB')
      .option('--once', 'one pass (kafka: until caught up with the end of the topic at start), then exit')
      .option('--metrics-port <port>', 'serve /metrics (Prometheus), /healthz (liveness) and /readyz (readiness) on this port', (v) => {
        const port = Number(v);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('--metrics-port must be a port number');
        return port;
      })
      .option('--metrics-host <host>', 'address for the metrics server (0.0.0.0 in a container)', process.env.METRICS_HOST ?? '127.0.0.1')
      .option(
        '--unhealthy-after <duration>',
        '/healthz fails once the source or InfluxDB has been unreachable this long',
        durationMsArg('--unhealthy-after'),
        120_000,
      );
    if (name === 'redis') {
      cmd.option('--shard <i/n>', "read only shard i of n (1-based) of every family's keys, split by key hash: run n feeders with 1/n … n/n", (v) => {
        try {
          return parseShard(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      });
    }
    cmd.action(async (opts: FeedOptions) => {
      if (opts.sampleConfig) return void process.stdout.write(sampleConfig(name));
      if (opts.config === undefined) throw new UsageError(`feed ${name} needs --config FILE (--sample-config prints an example)`);
      await runFeeder(name, create, { ...opts, config: opts.config }, sources);
    });
  }
}

/** The commented example of `examples/feeders/`, which a unit test reads with the strict readers. */
export function sampleConfig(name: string): string {
  return readFileSync(new URL(`../../examples/feeders/${name}.yaml`, import.meta.url), 'utf8');
}

interface FeedOptions {
  config?: string;
  sampleConfig?: boolean;
  stdout?: boolean;
  once?: boolean;
  metricsPort?: number;
  shard?: Shard;
  metricsHost?: string;
  unhealthyAfter?: number;
}

export async function runFeeder(name: string, create: FeederFactory, opts: FeedOptions & { config: string }, sources?: SourceAddresses): Promise<void> {
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
