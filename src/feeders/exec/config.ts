import { hostname } from 'node:os';
import type { ConfigSection } from '../../config.js';

/**
 * `feed exec`: checks (scripts) run every interval. A check runs its `command` (a list: the program and its
 * arguments, no shell) or, only when asked, a `shell` command line through /bin/sh -c.
 */
export interface CheckConfig {
  name: string;
  /** The program and its arguments; for a shell check, `/bin/sh -c TEXT`. */
  argv: string[];
  shell: boolean;
  intervalMs: number;
  timeoutMs: number;
  /** Added to the feeder's environment. */
  env: Record<string, string>;
  cwd?: string;
}

export interface ExecFeederConfig {
  /** The `host` tag of every point. */
  host: string;
  /** Output past this many bytes of stdout is not read (the run is marked truncated); the script is not stopped for it. */
  maxOutputBytes: number;
  checks: CheckConfig[];
}

export function readExecConfig(root: ConfigSection): ExecFeederConfig {
  const checks = root.sections('checks');
  if (!checks || checks.length === 0) throw root.error('checks', 'is required: a list of checks (name, command or shell, interval)');
  const intervalMs = root.durationMs('interval', 60_000);
  const timeoutMs = root.durationMs('timeout', Math.min(10_000, intervalMs));
  const names = new Set<string>();
  return {
    host: root.string('host', hostname()),
    maxOutputBytes: root.number('maxOutputBytes', 1024 * 1024, { min: 1, integer: true }),
    checks: checks.map((s) => {
      const c = readCheck(s, intervalMs, timeoutMs);
      if (names.has(c.name)) throw s.error('name', `check name ${c.name} appears twice`);
      names.add(c.name);
      return c;
    }),
  };
}

function readCheck(s: ConfigSection, defaultIntervalMs: number, defaultTimeoutMs: number): CheckConfig {
  const name = s.requireString('name');
  const command = s.data.command;
  const shellText = s.string('shell');
  if (command !== undefined && shellText !== undefined)
    throw s.error('shell', 'give either command (a list, no shell) or shell (a command line for /bin/sh), not both');
  let argv: string[];
  if (shellText !== undefined) {
    if (shellText.trim() === '') throw s.error('shell', 'is empty');
    argv = ['/bin/sh', '-c', shellText];
  } else {
    if (command === undefined) throw s.error('command', 'is required: the program and its arguments as a list, e.g. [/usr/local/bin/check_disk, "-w", "80"]');
    if (typeof command === 'string') throw s.error('command', 'must be a list (the program, then each argument); for a shell command line use shell: "…"');
    argv = s.stringList('command') ?? [];
    if (argv.length === 0 || argv[0] === '') throw s.error('command', 'is empty: name the program to run');
  }
  const env: Record<string, string> = {};
  const envSection = s.section('env');
  for (const key of Object.keys(envSection.data)) env[key] = envSection.requireString(key);
  const intervalMs = s.durationMs('interval', defaultIntervalMs);
  if (intervalMs <= 0) throw s.error('interval', 'must be longer than 0');
  const timeoutMs = s.durationMs('timeout', Math.min(defaultTimeoutMs, intervalMs));
  if (timeoutMs <= 0) throw s.error('timeout', 'must be longer than 0');
  return { name, argv, shell: shellText !== undefined, intervalMs, timeoutMs, env, cwd: s.string('cwd') };
}
