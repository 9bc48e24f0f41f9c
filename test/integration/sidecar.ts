/**
 * The built sidecar as a child process, the way an operator runs it, for tests that put real kapacitord in front of it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
export const cliPath = path.join(root, 'dist/cli.js');
export const tickscriptDir = path.join(root, 'tickscripts');

// A test that fails between start and stop must not leave a sidecar behind.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Sidecar {
  socketDir: string;
  /** The `[udf]` section `udf-sidecar kapacitor-conf` prints for this socket dir. */
  udfConf: string;
  child: ChildProcess;
  log: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: what a crash looks like to Kapacitor. */
  kill(): Promise<void>;
}

/** `udfTimeout` is the keepalive timeout written into the kapacitor.conf section (Kapacitor aborts a task after it). */
export async function startSidecar(
  socketDir = mkdtempSync(path.join(tmpdir(), 'udf-sock-')),
  { extraArgs = [] as string[], udfTimeout = '10s' } = {},
): Promise<Sidecar> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does)`);
  const child = spawn(process.execPath, [cliPath, 'serve', '--socket-dir', socketDir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug' },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 15_000;
  while (!log.includes('"ready"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sidecar did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = () =>
    new Promise<number | null>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c)),
    );
  const udfConf = execFileSync(process.execPath, [cliPath, 'kapacitor-conf', '--socket-dir', socketDir, '--timeout', udfTimeout], { encoding: 'utf8' });
  return {
    socketDir,
    udfConf,
    child,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      return exited();
    },
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
  };
}
