#!/usr/bin/env node
/**
 * udf-sidecar: the one command. `serve` hosts every function on Unix sockets; `run` serves one on stdin/stdout;
 * `replay` runs a recording through a function; `kapacitor-conf` prints the matching kapacitor.conf section; feeders,
 * InfluxDB provisioning and Kapacitor task sync register their own subcommands below.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { ServedFunction } from './agent/handler.js';
import { serve } from './serve.js';
import { runStdio } from './agent/stdio.js';
import { classify, SidecarError, UsageError } from './errors.js';
import { checkKapacitorTimeout, kapacitorUdfSection } from './kapacitor-conf.js';
import { checkLogEnv, createLogger } from './log.js';
import { replay, StreamLineSink } from './replay.js';
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
  const names = v.split(',').map((n) => n.trim()).filter((n) => n !== '');
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
    .option('--metrics-port <port>', 'serve Prometheus /metrics and /healthz on this port (env METRICS_PORT)', portArg, envPort())
    .option('--metrics-host <host>', 'address for the metrics server (0.0.0.0 in a container)', process.env.METRICS_HOST ?? '127.0.0.1')
    .option('--status-interval <seconds>', 'seconds between status log lines', intArg('--status-interval'), 60)
    .action(async (opts) => {
      const log = createLogger('sidecar');
      if (!/^[0-7]{3,4}$/.test(opts.socketMode)) throw new UsageError(`--socket-mode ${opts.socketMode} is not an octal mode (like 0660)`);
      const functions: ServedFunction[] = opts.functions ?? servedFunctions;
      const sidecar = await serve({
        functions,
        socketDir: opts.socketDir,
        socketMode: Number.parseInt(opts.socketMode, 8),
        maxGroups: opts.maxGroups,
        maxFrame: opts.maxFrame,
        metricsPort: opts.metricsPort,
        metricsHost: opts.metricsHost,
        statusIntervalMs: opts.statusInterval * 1000,
        log,
      });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info('stopping', { signal, connections: sidecar.server.connectionCount });
        await sidecar.close();
        log.info('stopped');
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
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
    .description('run line protocol, a stream recording (.srpl) or a batch recording (.brpl) through a function (FILE: a path, or - for stdin); print line protocol')
    .option('-o, --option <name=value>', 'a function option, as in TICKscript (repeatable): -o field=value -o minDuration=2m', collect, [])
    .option('--group-by <tags>', 'stream: comma-separated tags to group by (default: every tag)')
    .action(async (name: string, file: string, opts) => {
      const options: Record<string, OptionInput[]> = {};
      for (const kv of opts.option as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--option ${kv} is not name=value (like -o field=value)`);
        (options[kv.slice(0, eq)] ??= []).push(kv.slice(eq + 1));
      }
      const sink = new StreamLineSink(process.stdout);
      const summary = await replay(name, file === '-' ? process.stdin : file, { options, groupBy: opts.groupBy ? String(opts.groupBy).split(',') : undefined }, sink).catch(
        (err: unknown) => {
          throw inFile(file, err);
        },
      );
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
