/** bench:feeders: the servers of the test stack, the processes measured, and InfluxDB 1.8 queries for the count checks. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLK_TCK = 100;

export const ports = {
  influxdb: Number(process.env.INFLUXDB_PORT ?? 18086),
  redis: Number(process.env.REDIS_PORT ?? 16379),
  kafka: Number(process.env.KAFKA_PORT ?? 29092),
};
export const influxUrl = `http://127.0.0.1:${ports.influxdb}`;
export const brokers = [`127.0.0.1:${ports.kafka}`];

export class BenchCheckFailed extends Error {}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new BenchCheckFailed(`count check failed: ${what}`);
}

export interface Usage {
  cpuS: number;
  rssMiB: number;
}

/** CPU seconds (user + system) and peak RSS of a live process, from /proc. */
export function usageOf(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / CLK_TCK, rssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
}

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2_000_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function stop(p: Proc, what: string): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const kill = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const { code, signal } = await p.exited;
  clearTimeout(kill);
  if (code !== 0) throw new Error(`${what} exited with code ${code} (signal ${signal}):\n${p.stderr().slice(-3000)}`);
}

export function stackStart(service: string): void {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/stack/start.sh'), service], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0) throw new Error(`scripts/stack/start.sh ${service} failed:\n${r.stderr}`);
}

export async function influxQuery(db: string, q: string): Promise<Array<{ values: unknown[][] }>> {
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(q)}`, { method: 'POST' });
  const body = (await res.json()) as { results?: Array<{ series?: Array<{ values: unknown[][] }>; error?: string }>; error?: string };
  const err = body.error ?? body.results?.[0]?.error;
  if (!res.ok || err) throw new Error(`InfluxDB query ${q}: ${err ?? res.status}`);
  return body.results?.[0]?.series ?? [];
}

export async function countPoints(db: string, measurement: string, field: string): Promise<number> {
  const s = await influxQuery(db, `SELECT count("${field}") FROM "${measurement}"`);
  return s.length === 0 ? 0 : Number(s[0].values[0][1]);
}

let dbSeq = 0;
export async function freshDatabase(prefix: string): Promise<string> {
  const db = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbSeq++}`;
  await influxQuery('', `CREATE DATABASE "${db}"`);
  return db;
}

export const dropDatabase = (db: string) => influxQuery('', `DROP DATABASE "${db}"`).then(() => undefined);
