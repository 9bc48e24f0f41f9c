/**
 * `feed redis|kafka|router|exec --config FILE [--stdout] [--once]`: the commands, their options and help. A config
 * error throws a ConfigError (the program exits 2 with the key and the file); otherwise a feeder runs until
 * SIGINT/SIGTERM, then flushes what it holds and exits. What a feeder does is in run-feeder.ts, imported by the
 * command's action, so that parsing a command line (and every `serve` or `run` process) loads no feeder.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { durationMsArg } from '../cli-args.js';
import { UsageError } from '../errors.js';
import { parseShard } from './redis/shard.js';
import type { FeedOptions, FeederName } from './run-feeder.js';

/** The feeders, each with the one line `feed --help` shows. */
const FEEDERS: Record<FeederName, string> = {
  redis: 'read the building-management Redis every interval (SCAN + MGET) and write its families as points',
  kafka: 'consume monitoring notifications; commit offsets only after InfluxDB accepted their points',
  router: 'poll ADSL routers over SSH (show adsl status) and write adsl_connection points',
  exec: 'run check scripts every interval (no shell unless asked) and write what they print as points',
};

export function registerFeedCommands(program: Command): void {
  const feed = program.command('feed').description('feeders: Redis, Kafka, routers and check scripts into InfluxDB');
  for (const [name, description] of Object.entries(FEEDERS) as [FeederName, string][]) {
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
      const { runFeeder } = await import('./run-feeder.js');
      await runFeeder(name, { ...opts, config: opts.config });
    });
  }
}

/** The commented example of `examples/feeders/`, which a unit test reads with the strict readers. */
export function sampleConfig(name: string): string {
  return readFileSync(new URL(`../../examples/feeders/${name}.yaml`, import.meta.url), 'utf8');
}
