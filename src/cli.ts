#!/usr/bin/env node
/**
 * udf-sidecar: the one command. `serve` hosts every function on Unix sockets; `run` serves one on stdin/stdout;
 * `replay` runs a recording through a function; `kapacitor-conf` prints the matching kapacitor.conf section; feeders,
 * InfluxDB provisioning and Kapacitor task sync register their own subcommands below.
 *
 * What only one command needs (replay, the feeders, the InfluxDB, Kafka, Redis and SSH clients) is imported by that
 * command's action: Kapacitor starts a `run` process per task and a `serve` process lives for months, and neither
 * should pay for the rest in start-up time or heap. A bigger resident heap also makes each of V8's full collections
 * longer, and those follow a bulk feed's socket reads (docs/benchmarks.md).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { durationMsArg } from './cli-args.js';
import { DRAIN_SIGNAL } from './upgrade.js';
import type { ServedFunction } from './agent/handler.js';
import { serve, type RunningSidecar } from './serve.js';
import { runStdio } from './agent/stdio.js';
import { classify, UsageError } from './errors.js';
import { checkKapacitorTimeout, kapacitorUdfSection } from './kapacitor-conf.js';
import { checkLogEnv, createLogger } from './log.js';
import { registerFeedCommands } from './feeders/cli.js';
import { registerInfluxCommands } from './influx/command.js';
import { registerKapacitorCommands } from './kapacitor/command.js';
import { registerSimulateCommands } from './simulate/command.js';
import { findFunction, servedFunctions } from './udf/registry.js';
import type { OptionInput } from './udf/testing.js';

const intArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${v} is not a TCP port`);
  return n;
}

function envPort(): number | undefined {
  const v = process.env.METRICS_PORT;
  if (!v) return undefined;
  try {
    return portArg(v);
  } catch {
    throw new UsageError(`METRICS_PORT=${v} is not a TCP port (0-65535)`);
  }
}

/** The installed package's version: package.json sits one level above dist/ in a checkout, a tarball and the image. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Names the input file in errors that are about it (a bad line, a read that failed on a path it does not name). */
function inFile(file: string, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) && e.path === undefined) e.path = file;
  return err;
}

/** `--functions a,b`: names checked against the registry, so a typo is a usage error naming the known ones. */
function functionsArg(v: string): ServedFunction[] {
  const names = v
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) throw new InvalidArgumentError('give at least one function name');
  return names.map((name) => {
    try {
      return findFunction(name);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  });
}

function collect(v: string, acc: string[]): string[] {
  return [...acc, v];
}

/** Beside the socket dir, so that two sidecars on two socket dirs never share states: /run/udf → /run/udf-state. */
export function defaultStateDir(socketDir: string): string {
  const abs = path.resolve(socketDir);
  return path.join(path.dirname(abs), `${path.basename(abs)}-state`);
}

/** The same command line again, with --takeover: the binary on disk now (an upgraded package) replaces this one. */
function startSuccessor() {
  const args = process.argv.slice(2).filter((a) => a !== '--takeover');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args, '--takeover'], { detached: true, stdio: 'inherit' });
  child.unref();
  return child;
}

export function buildProgram(): Command {
  const program = new Command('udf-sidecar')
    .description('Kapacitor UDF sidecar: edgeDetect, movingAverage and rate over Unix sockets, plus feeders')
    .version(packageVersion())
    .showHelpAfterError()
    // Parse errors are printed by commander and come back here as exceptions, to leave by the one exit path.
    .exitOverride();

  program
    .command('serve')
    .description('serve every function on DIR/<name>.sock until SIGTERM/SIGINT')
    .requiredOption('--socket-dir <dir>', 'directory for the sockets (created if missing)')
    .option('--socket-mode <octal>', 'file mode of the sockets', '0660')
    .option('--functions <names>', 'comma-separated subset of functions to serve (default: all)', functionsArg)
    .option('--max-groups <n>', 'per connection, groups kept before the least recently seen is evicted', intArg('--max-groups'), 100_000)
    .option('--max-frame <bytes>', 'largest accepted request frame', intArg('--max-frame'), 16 * 1024 * 1024)
    .option('--max-memory <bytes>', 'memory all tasks together may keep (groups, states, open batches; estimated)', intArg('--max-memory'), 1024 * 1024 * 1024)
    .option(
      '--max-connection-memory <bytes>',
      'memory one task connection may keep; past it, its groups are evicted',
      intArg('--max-connection-memory'),
      256 * 1024 * 1024,
    )
    .option('--max-connections <n>', 'connections open at once (a quarter kept for tasks past Init)', intArg('--max-connections'), 512)
    .option('--init-timeout <seconds>', 'close a connection that has not sent Init within this many seconds', intArg('--init-timeout'), 10)
    .option('--metrics-port <port>', 'serve Prometheus /metrics and /healthz on this port (env METRICS_PORT)', portArg, envPort())
    .option('--metrics-host <host>', 'address for the metrics server (0.0.0.0 in a container)', process.env.METRICS_HOST ?? '127.0.0.1')
    .option('--status-interval <seconds>', 'seconds between status log lines', intArg('--status-interval'), 60)
    .option('--state-dir <dir>', "keep every task's states here across restarts (default: <socket dir>-state beside the socket dir)")
    .option('--no-state-dir', "keep no states of our own (Kapacitor's snapshots only)")
    .option('--state-interval <duration>', 'fsync the state log at most this often (against a machine crash)', durationMsArg('--state-interval'), 1000)
    .option('--kapacitor-url <url>', 'heal: restart the Kapacitor tasks that call our functions and have no live connection here')
    .option('--heal-interval <duration>', 'how often healing looks at the tasks', durationMsArg('--heal-interval'), 10_000)
    .option('--takeover', 'upgrade in place: replace the sockets of the sidecar running on this socket dir and tell it to drain')
    .option(
      '--drain-timeout <duration>',
      'when taken over: how long open connections are served before they are closed',
      durationMsArg('--drain-timeout'),
      60_000,
    )
    .action(async (opts) => {
      const log = createLogger('sidecar');
      if (opts.kapacitorUrl !== undefined && !/^https?:\/\/[^/]/.test(opts.kapacitorUrl)) {
        throw new UsageError(`--kapacitor-url ${opts.kapacitorUrl}: expected http(s)://host:port`);
      }
      if (!/^[0-7]{3,4}$/.test(opts.socketMode)) throw new UsageError(`--socket-mode ${opts.socketMode} is not an octal mode (like 0660)`);
      const functions: ServedFunction[] = opts.functions ?? servedFunctions;
      // Handlers first: a signal that comes right after the `ready` line waits for serve() instead of killing us.
      let resolveStarted!: (s: RunningSidecar) => void;
      const started = new Promise<RunningSidecar>((resolve) => (resolveStarted = resolve));
      let stopping = false;
      const stop = async (signal: string) => {
        const sidecar = await started;
        if (stopping) return;
        stopping = true;
        log.info('stopping', { signal, connections: sidecar.server.connectionCount });
        await sidecar.close();
        log.info('stopped');
        process.exit(0);
      };
      process.on(DRAIN_SIGNAL, async () => {
        const sidecar = await started;
        if (stopping) return;
        stopping = true;
        log.info('draining: another sidecar took over the sockets', { connections: sidecar.server.connectionCount });
        await sidecar.drain(opts.drainTimeout);
        log.info('stopped');
        process.exit(0);
      });
      process.on('SIGHUP', async () => {
        await started;
        if (stopping) return;
        const successor = startSuccessor();
        log.info('reload: a successor takes the sockets over', { pid: successor.pid });
        successor.once('exit', (code, signal) => {
          if (!stopping) log.error('reload failed: the successor exited; still serving', { pid: successor.pid, code, signal });
        });
      });
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      const sidecar = await serve({
        functions,
        socketDir: opts.socketDir,
        socketMode: Number.parseInt(opts.socketMode, 8),
        maxGroups: opts.maxGroups,
        maxFrame: opts.maxFrame,
        maxConnections: opts.maxConnections,
        maxMemory: opts.maxMemory,
        maxConnectionMemory: opts.maxConnectionMemory,
        initTimeoutMs: opts.initTimeout * 1000,
        metricsPort: opts.metricsPort,
        metricsHost: opts.metricsHost,
        statusIntervalMs: opts.statusInterval * 1000,
        stateDir: opts.stateDir === false ? null : typeof opts.stateDir === 'string' ? opts.stateDir : defaultStateDir(opts.socketDir),
        stateDirIsDefault: opts.stateDir === undefined,
        stateIntervalMs: opts.stateInterval,
        kapacitorUrl: opts.kapacitorUrl,
        healIntervalMs: opts.healInterval,
        takeover: opts.takeover === true,
        log,
      });
      resolveStarted(sidecar);
    });

  program
    .command('run <name>')
    .description('serve one function on stdin/stdout (Kapacitor process mode: prog = "udf-sidecar", args = ["run", "<name>"])')
    .action(async (name: string) => {
      const log = createLogger('sidecar');
      let fn: ServedFunction;
      try {
        fn = findFunction(name);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      await runStdio(fn, { log });
    });

  program
    .command('replay <name> <file>')
    .description(
      'run line protocol, a stream recording (.srpl) or a batch recording (.brpl) through a function (FILE: a path, or - for stdin); print line protocol',
    )
    .option('-o, --option <name=value>', 'a function option, as in TICKscript (repeatable): -o field=value -o minDuration=2m', collect, [])
    .option('--group-by <tags>', 'stream: comma-separated tags to group by (default: every tag)')
    .action(async (name: string, file: string, opts) => {
      const options: Record<string, OptionInput[]> = {};
      for (const kv of opts.option as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--option ${kv} is not name=value (like -o field=value)`);
        (options[kv.slice(0, eq)] ??= []).push(kv.slice(eq + 1));
      }
      const { replay, StreamLineSink } = await import('./replay.js');
      const sink = new StreamLineSink(process.stdout);
      const summary = await replay(
        name,
        file === '-' ? process.stdin : file,
        { options, groupBy: opts.groupBy ? String(opts.groupBy).split(',') : undefined },
        sink,
      ).catch((err: unknown) => {
        throw inFile(file, err);
      });
      await sink.flush();
      for (const note of summary.notes) process.stderr.write(`udf-sidecar replay: ${note}\n`);
    });

  program
    .command('kapacitor-conf')
    .description('print the kapacitor.conf [udf] section for every function')
    .requiredOption('--socket-dir <dir>', 'the directory `serve --socket-dir` uses')
    .option('--functions <names>', 'comma-separated subset, as given to `serve --functions` (default: all)', functionsArg)
    .option('--timeout <duration>', 'keepalive timeout Kapacitor applies to each function', '10s')
    .action((opts) => {
      const problem = checkKapacitorTimeout(opts.timeout);
      if (problem) throw new UsageError(problem);
      process.stdout.write(kapacitorUdfSection(opts.socketDir, opts.timeout, opts.functions ?? servedFunctions));
    });

  // feeders
  registerFeedCommands(program);
  // influx
  registerInfluxCommands(program);
  // kapacitor
  registerKapacitorCommands(program);
  // demo sources
  registerSimulateCommands(program);

  return program;
}

/**
 * The one exit path: whatever a command throws (or leaves unhandled) ends as one line on stderr with its stable code
 * and the exit status of docs/errors.md, never a stack. A closed stdout (`… | head -1`) ends the command quietly
 * with status 0: the reader has what it wanted.
 */
function fail(err: unknown): never {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const { code, exit, message } = classify(err);
  process.stderr.write(`udf-sidecar: ${message} [${code}]\n`);
  process.exit(exit);
}

async function main(): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : fail(err)));
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  try {
    checkLogEnv();
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    fail(err);
  }
}

// Only as the program itself (also through npm's bin symlink): a test imports buildProgram without running it.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
