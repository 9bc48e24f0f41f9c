/**
 * The kapacitord of `npm run bench:kapacitor` (see kapacitor.ts), from the cache scripts/stack/install.sh fills: its
 * config, start and HTTP API; and the CPU time of processes, read from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const env = process.env;
const CACHE = env.UDF_STACK_CACHE || path.join(os.homedir(), '.cache', 'kapacitor-udf-sidecar');
export const KAPACITOR_VERSION = env.KAPACITOR_VERSION || '1.8.3';
const PORT = Number(env.KAPACITOR_PORT || 19092);
export const URL_BASE = `http://127.0.0.1:${PORT}/kapacitor/v1`;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export async function api(method: string, p: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${URL_BASE}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`kapacitord ${method} ${p}: ${res.status} ${text.trim()}`);
  return text ? JSON.parse(text) : undefined;
}

async function ping(): Promise<boolean> {
  try {
    return (await fetch(`${URL_BASE}/ping`, { signal: AbortSignal.timeout(1000) })).status === 204;
  } catch {
    return false;
  }
}

export async function startKapacitord(dir: string, udfConf: string): Promise<{ child: ChildProcess; log: string }> {
  const binDir = path.join(CACHE, 'bin', `kapacitor-${KAPACITOR_VERSION}`);
  if (!existsSync(path.join(binDir, '.installed'))) {
    execFileSync('bash', [path.join(ROOT, 'scripts/stack/install.sh'), 'kapacitor'], { stdio: 'inherit' });
  }
  if (await ping()) throw new Error(`a kapacitord already answers on port ${PORT}: stop it or set KAPACITOR_PORT`);
  const log = path.join(dir, 'kapacitord.log');
  await writeFile(
    path.join(dir, 'kapacitor.conf'),
    `hostname = "127.0.0.1"
data_dir = "${dir}/data"
skip-config-overrides = true
[http]
  bind-address = "127.0.0.1:${PORT}"
  log-enabled = false
  # For a CPU profile of kapacitord during a run: go tool pprof -top URL/kapacitor/v1/debug/pprof/profile?seconds=10
  pprof-enabled = true
[replay]
  dir = "${dir}/replay"
[storage]
  boltdb = "${dir}/kapacitor.db"
[task]
  dir = "${dir}/tasks"
  snapshot-interval = "600s"
[load]
  enabled = false
[logging]
  file = "STDERR"
  level = "WARN"
[reporting]
  enabled = false
[stats]
  enabled = false
[fluxtask]
  enabled = false
[[influxdb]]
  enabled = false
  name = "default"
  urls = ["http://127.0.0.1:1"]
${udfConf}
`,
  );
  const fd = openSync(log, 'a');
  const child = spawn(path.join(binDir, 'kapacitord'), ['-config', path.join(dir, 'kapacitor.conf')], {
    stdio: ['ignore', fd, fd],
    cwd: dir,
  });
  closeSync(fd);
  const deadline = Date.now() + 90_000;
  while (!(await ping())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`kapacitord did not start:\n${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { child, log };
}

/** utime + stime of a process, in µs. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14, stime 15 (1-based): indexes 11 and 12 here.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text) out.push(...text.split(' ').map(Number));
  }
  return out;
}

export function childRunning(kapacitordPid: number, needle: string): number | null {
  for (const pid of childrenOf(kapacitordPid)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}
