import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../../log.js';
import { ProblemLog, runEvery, type FeederCounters, type PointSink } from '../feeder.js';
import { nowNs } from '../point.js';
import type { CheckConfig, ExecFeederConfig } from './config.js';
import { runPoints, type RunOutcome } from './points.js';
import { CounterRates } from './rate.js';

/** After the timeout's SIGTERM, how long a script has to exit before its process group gets SIGKILL. */
const KILL_GRACE_MS = 2000;
const STDERR_TAIL = 2000;

export interface ScriptRun {
  stdout: string;
  stderrTail: string;
  outcome: RunOutcome;
}

/**
 * Runs one check: no shell (unless the check is a shell check, whose argv is /bin/sh -c), stdin closed, stdout kept
 * up to `maxOutputBytes`. The script gets its own process group, so on timeout SIGTERM and then SIGKILL reach what
 * it started too (a `sleep` left behind would hold stdout open). Never rejects: a program that cannot start is an
 * outcome like any other.
 */
export function runScript(check: CheckConfig, maxOutputBytes: number): Promise<ScriptRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderrTail = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(check.argv[0], check.argv.slice(1), {
      cwd: check.cwd,
      env: { ...process.env, ...check.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const finish = (outcome: Omit<RunOutcome, 'durationMs' | 'timedOut' | 'truncated'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(hardKill);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        stdout: Buffer.concat(chunks).toString('utf8'),
        stderrTail,
        outcome: { ...outcome, timedOut, truncated, durationMs: performance.now() - started },
      });
    };
    let hardKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      hardKill = setTimeout(() => {
        killGroup('SIGKILL');
        // A grandchild that left the group may still hold the pipes: do not wait for them to close.
        setTimeout(() => finish({ exitCode: 128 + constants.signals.SIGKILL, signal: 'SIGKILL' }), 500);
      }, KILL_GRACE_MS);
    }, check.timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (truncated) return;
      const room = maxOutputBytes - size;
      if (chunk.length > room) {
        truncated = true;
        chunk = chunk.subarray(0, room);
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderrTail = (stderrTail + d).slice(-STDERR_TAIL)));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // ENOENT / EACCES: nothing ran. 127 and 126 are what a shell answers for the same.
      finish({ exitCode: err.code === 'ENOENT' ? 127 : 126, spawnError: `${check.argv[0]}: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      finish(signal !== null ? { exitCode: 128 + (constants.signals[signal] ?? 0), signal } : { exitCode: code ?? 0 });
    });
  });
}

/**
 * `feed exec`: every check in its own loop (one run at a time per check, several checks at once). Each run's output
 * becomes points (parse.ts, points.ts), written through the sink with one `exec_check` status point; bad lines are
 * counted (`dropped`, reason bad_line) and logged once per run with examples.
 */
export class ExecFeeder {
  private readonly rates = new CounterRates();

  constructor(
    private readonly config: ExecFeederConfig,
    private readonly sink: PointSink,
    readonly counters: FeederCounters,
    private readonly log: Logger,
  ) {}

  async run(opts: { once: boolean; signal: AbortSignal }): Promise<void> {
    await Promise.all(
      this.config.checks.map((check) =>
        runEvery({ name: `check ${check.name}`, intervalMs: check.intervalMs, once: opts.once, log: this.log, signal: opts.signal }, async () => {
          await this.runOnce(check);
        }),
      ),
    );
  }

  /** One run of one check, its points handed to the sink. Returns what the run gave, for tests and the log. */
  async runOnce(check: CheckConfig): Promise<ReturnType<typeof runPoints>> {
    const timeNs = nowNs();
    const { stdout, stderrTail, outcome } = await runScript(check, this.config.maxOutputBytes);
    const result = runPoints(check.name, this.config.host, stdout, outcome, timeNs, this.rates);
    this.counters.add('read', result.points.length);
    this.counters.drop('bad_line', result.bad.length);
    if (result.bad.length > 0) {
      const problems = new ProblemLog();
      for (const { line, reason } of result.bad) problems.add(reason, line);
      problems.report(this.log, { check: check.name });
    }
    const context = { check: check.name, exitCode: outcome.exitCode, ms: Math.round(outcome.durationMs), stderr: stderrTail.trim() || undefined };
    if (outcome.spawnError) this.log.error('check could not start', { ...context, error: outcome.spawnError });
    else if (outcome.timedOut) this.log.warn(`check timed out after ${check.timeoutMs} ms: killed`, context);
    else if (outcome.exitCode !== 0) this.log.warn('check exited with a failure status', context);
    if (outcome.truncated) this.log.warn(`check output past ${this.config.maxOutputBytes} bytes was not read`, { check: check.name });
    this.sink.write(result.points);
    return result;
  }
}
