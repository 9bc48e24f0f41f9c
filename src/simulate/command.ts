/**
 * `udf-sidecar simulate redis|kafka|router`: the demo's sources, so `docker compose up` has data flowing without a
 * building-management system, a monitoring service or real modems. Not for production. Each action imports its source
 * (the Redis, Kafka and SSH clients) when it runs, not when the program starts.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../duration.js';
import { createLogger } from '../log.js';

const everyArg = (v: string) => {
  try {
    const ms = Number(parseDuration(v) / 1_000_000n);
    if (ms <= 0) throw new Error();
    return ms;
  } catch {
    throw new InvalidArgumentError(`--every ${v} is not a positive duration: write it with a unit, like 10s`);
  }
};

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

/** Aborted by SIGINT/SIGTERM. */
function untilSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  return controller.signal;
}

export function registerSimulateCommands(program: Command): void {
  const simulate = program.command('simulate').description('demo sources for docker compose: MOC keys, notifications, routers (not for production)');
  simulate
    .command('redis')
    .description('write the synthetic MOC building-management keys into Redis, again every interval')
    .requiredOption('--url <url>', 'Redis URL, e.g. redis://redis:6379/0')
    .option('--every <duration>', 'time between passes', everyArg, 10_000)
    .action(async (o: { url: string; every: number }) => {
      const { simulateRedis } = await import('./sources.js');
      await simulateRedis({ url: o.url, everyMs: o.every, signal: untilSignal(), log: createLogger('simulate-redis') });
    });
  simulate
    .command('kafka')
    .description('produce a monitoring notification to a topic every interval')
    .requiredOption('--brokers <list>', 'comma-separated host:port list')
    .requiredOption('--topic <topic>', 'the topic the Kafka feeder consumes')
    .option('--every <duration>', 'time between notifications', everyArg, 2000)
    .action(async (o: { brokers: string; topic: string; every: number }) => {
      const { simulateKafka } = await import('./sources.js');
      await simulateKafka({ brokers: o.brokers.split(','), topic: o.topic, everyMs: o.every, signal: untilSignal(), log: createLogger('simulate-kafka') });
    });
  simulate
    .command('router')
    .description('an SSH server answering `show adsl status` for users router1 … routerN')
    .requiredOption('--password-file <file>', 'file whose first line is the password every router accepts')
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on', positiveInt('--port'), 2222)
    .option('--routers <n>', 'how many routers', positiveInt('--routers'), 3)
    .action(async (o: { passwordFile: string; host: string; port: number; routers: number }) => {
      const password = readFileSync(o.passwordFile, 'utf8').split('\n')[0];
      if (!password) throw new InvalidArgumentError(`${o.passwordFile} is empty: put the routers' password on its first line`);
      const log = createLogger('simulate-router');
      const { startRouterSim } = await import('./router.js');
      const sim = await startRouterSim({ host: o.host, port: o.port, routers: o.routers, password, log });
      const signal = untilSignal();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await sim.close();
    });
}
