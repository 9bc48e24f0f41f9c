/**
 * Real servers for the integration tests (see docs/stack.md).
 *
 * The servers are started by scripts/stack/start.sh (installed by scripts/stack/install.sh when missing), listen on
 * 127.0.0.1 with the ports below, and are shared by all test files (which run one at a time). Every helper fails with
 * an Error that carries the server's log tail: tests must fail, never skip, when a server cannot run.
 *
 *   ensureInfluxDB / ensureRedis / ensureKafka   start if needed, return connection facts
 *   ensureKafkaSecure                            Kafka's SASL_SSL listener: brokers, CA file, user, password file
 *   stopService / startService                   take a server down and bring it back (data kept)
 *   influxQuery / influxWriteLP / createDatabase / dropDatabase   InfluxDB 1.8 v1 API, ns precision kept exact
 *   startKapacitord / kapacitorBinDir            one kapacitord per call, on KAPACITOR_PORT, in a temp dir
 *   ensureInfluxDB2 / influxdb2Setup / resetInfluxDB2   InfluxDB 2.7 (POST /api/v2/setup: org, bucket, token)
 *
 * Environment overrides (same defaults as scripts/stack/lib.sh): UDF_STACK_CACHE, UDF_STACK_RUN, INFLUXDB_PORT,
 * INFLUXDB2_PORT, REDIS_PORT, KAFKA_PORT, KAFKA_SASL_SSL_PORT, KAFKA_SASL_USER, KAPACITOR_PORT, KAPACITOR_VERSION.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const env = process.env;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPTS = path.join(ROOT, 'scripts', 'stack');

/** Ports, versions and directories in use (env overrides applied). */
export const stack = {
  cacheDir: env.UDF_STACK_CACHE || path.join(os.homedir(), '.cache', 'kapacitor-udf-sidecar'),
  runDir: env.UDF_STACK_RUN || '/tmp/udf-sidecar-stack',
  kapacitorVersion: env.KAPACITOR_VERSION || '1.8.3',
  influxdbPort: Number(env.INFLUXDB_PORT || 18086),
  influxdb2Port: Number(env.INFLUXDB2_PORT || 18087),
  redisPort: Number(env.REDIS_PORT || 16379),
  kafkaPort: Number(env.KAFKA_PORT || 29092),
  kafkaSaslSslPort: Number(env.KAFKA_SASL_SSL_PORT || 29094),
  kafkaSaslUser: env.KAFKA_SASL_USER || 'udffeeder',
  kapacitorPort: Number(env.KAPACITOR_PORT || 19092),
} as const;

export type ServiceName = 'influxdb' | 'redis' | 'kafka' | 'influxdb2';
export const SERVICES: readonly ServiceName[] = ['influxdb', 'redis', 'kafka', 'influxdb2'];

// ---------------------------------------------------------------------------------------------------------------------
// Processes

interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[stack.ts] ${cmd} timed out after ${opts.timeoutMs} ms, killed`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) });
    });
  });
}

async function script(name: string, args: string[], timeoutMs = 20 * 60_000): Promise<RunResult> {
  const r = await run('bash', [path.join(SCRIPTS, name), ...args], { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`scripts/stack/${name} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  }
  return r;
}

function tail(file: string, lines = 60): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return `----- last ${lines} lines of ${file} -----\n${all.slice(-lines - 1).join('\n')}`;
  } catch {
    return `(no log at ${file})`;
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago (for a kapacitord beside another one on KAPACITOR_PORT). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------------
// Services

/** Starts SERVICE with scripts/stack/start.sh (idempotent; installs first if missing). Throws with the log tail. */
export async function startService(name: ServiceName): Promise<void> {
  await script('start.sh', [name]);
}

/** Stops SERVICE (SIGTERM, waits for exit). Its data stay in the run dir for the next startService. */
export async function stopService(name: ServiceName): Promise<void> {
  await script('stop.sh', [name], 60_000);
}

/** True when our pid file for SERVICE names a live process. */
export function isServiceRunning(name: ServiceName): boolean {
  const pidFile = path.join(stack.runDir, name, name === 'redis' ? 'redis.pid' : name === 'kafka' ? 'kafka.pid' : 'influxd.pid');
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!pid) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const influxUrl = () => `http://127.0.0.1:${stack.influxdbPort}`;

/** InfluxDB 1.8 (v1 API, /api/v2/write with token `user:password` and bucket `db/rp`, subscriptions). */
export async function ensureInfluxDB(): Promise<{ url: string }> {
  await startService('influxdb');
  return { url: influxUrl() };
}

export async function ensureRedis(): Promise<{ host: string; port: number }> {
  await startService('redis');
  return { host: '127.0.0.1', port: stack.redisPort };
}

/** Single-node KRaft Kafka 3.9 (auto topic creation on; internal topics have one partition). */
export async function ensureKafka(): Promise<{ brokers: string[] }> {
  await startService('kafka');
  return { brokers: [`127.0.0.1:${stack.kafkaPort}`] };
}

export interface KafkaSecure {
  /** The SASL_SSL listener: `['127.0.0.1:KAFKA_SASL_SSL_PORT']`. */
  brokers: string[];
  /** PEM of the test CA that signed the broker certificate (SAN IP:127.0.0.1, DNS:localhost). */
  caFile: string;
  /** SASL user known to PLAIN and (Kafka 3.x) SCRAM-SHA-256. */
  username: string;
  /** File holding the user's password (one line, mode 0600). Read it; never log it. */
  passwordFile: string;
}

/** The same Kafka's SASL_SSL listener (TLS + SASL PLAIN / SCRAM-SHA-256), files generated by start.sh in its run dir. */
export async function ensureKafkaSecure(): Promise<KafkaSecure> {
  await startService('kafka');
  const dir = path.join(stack.runDir, 'kafka');
  const out: KafkaSecure = {
    brokers: [`127.0.0.1:${stack.kafkaSaslSslPort}`],
    caFile: path.join(dir, 'tls', 'ca.pem'),
    username: stack.kafkaSaslUser,
    passwordFile: path.join(dir, 'sasl-password'),
  };
  for (const f of [out.caFile, out.passwordFile]) {
    if (!existsSync(f)) throw new Error(`Kafka runs but ${f} is missing: scripts/stack/stop.sh kafka && scripts/stack/start.sh kafka`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// InfluxDB 1.x helpers

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  /**
   * Rows. The `time` column is a bigint (ns since the epoch, exact); other integers are numbers when they are safe
   * integers and bigints otherwise; floats are numbers; strings and booleans as they are; null for missing.
   */
  values: unknown[][];
}

/**
 * Runs InfluxQL against the v1 /query endpoint (POST, epoch=ns) and returns the series of all statements, in order.
 * Throws when InfluxDB reports an error for any statement.
 */
export async function influxQuery(db: string, q: string): Promise<InfluxSeries[]> {
  const body = new URLSearchParams({ q, epoch: 'ns' });
  if (db) body.set('db', db);
  const res = await fetch(`${influxUrl()}/query`, { method: 'POST', body });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB /query ${res.status}: ${text.trim()} (q=${q})`);
  const parsed = parseJsonBigInt(text) as {
    error?: string;
    results?: Array<{ error?: string; series?: InfluxSeries[] }>;
  };
  if (parsed.error) throw new Error(`InfluxDB /query: ${parsed.error} (q=${q})`);
  const out: InfluxSeries[] = [];
  for (const r of parsed.results ?? []) {
    if (r.error) throw new Error(`InfluxDB /query: ${r.error} (q=${q})`);
    for (const s of r.series ?? []) {
      const ti = s.columns.indexOf('time');
      if (ti >= 0) {
        for (const row of s.values ?? []) {
          const t = row[ti];
          if (typeof t === 'number') row[ti] = BigInt(t);
        }
      }
      s.values ??= [];
      out.push(s);
    }
  }
  return out;
}

/** Writes line protocol (ns precision) through the v1 /write endpoint. rp '' = the database's default policy. */
export async function influxWriteLP(db: string, rp: string, lines: string | string[]): Promise<void> {
  const params = new URLSearchParams({ db, precision: 'ns' });
  if (rp) params.set('rp', rp);
  const body = Array.isArray(lines) ? lines.join('\n') : lines;
  const res = await fetch(`${influxUrl()}/write?${params}`, { method: 'POST', body });
  if (res.status !== 204) throw new Error(`InfluxDB /write ${res.status}: ${(await res.text()).trim()}`);
}

const ident = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export async function createDatabase(db: string): Promise<void> {
  await influxQuery('', `CREATE DATABASE ${ident(db)}`);
}

export async function dropDatabase(db: string): Promise<void> {
  await influxQuery('', `DROP DATABASE ${ident(db)}`);
}

/**
 * JSON.parse that keeps integers exact: integer literals that are not safe JS integers become bigint.
 * (Node 20 has no JSON.parse source access; InfluxDB's epoch=ns times exceed 2^53.)
 */
export function parseJsonBigInt(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`JSON: ${what} at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected :');
        o[k] = value();
        ws();
        const d = text[i++];
        if (d === '}') return o;
        if (d !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return a;
        if (d !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) return ((i += 4), true);
    if (text.startsWith('false', i)) return ((i += 5), false);
    if (text.startsWith('null', i)) return ((i += 4), null);
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 40));
    if (!m) return fail('unexpected character');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string');
      if (c === '\\') i += 2;
      else if (c === '"') {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      } else i++;
    }
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// ---------------------------------------------------------------------------------------------------------------------
// InfluxDB 2.x (optional)

export const influxdb2Url = () => `http://127.0.0.1:${stack.influxdb2Port}`;

/** True when install.sh influxdb2 has built the 2.x server (it is not part of `all`). */
export function influxdb2Installed(): boolean {
  return existsSync(path.join(stack.cacheDir, 'bin', `influxdb2-${env.INFLUXDB2_VERSION || '2.7.12'}`, '.installed'));
}

/** Starts InfluxDB 2.7 on INFLUXDB2_PORT (building it first if needed: slow, see docs/stack.md). */
export async function ensureInfluxDB2(): Promise<{ url: string }> {
  await startService('influxdb2');
  return { url: influxdb2Url() };
}

/** Stops InfluxDB 2, deletes its run dir (data, onboarding) and starts it again: a server that was never set up. */
export async function resetInfluxDB2(): Promise<{ url: string }> {
  await script('stop.sh', ['--clean', 'influxdb2'], 60_000);
  return ensureInfluxDB2();
}

export interface InfluxDB2Setup {
  url: string;
  org: string;
  orgID: string;
  bucket: string;
  bucketID: string;
  token: string;
}

/**
 * Onboards the InfluxDB 2 server (POST /api/v2/setup) once per run dir and returns its org, bucket and operator token.
 * A server that is already set up returns the facts saved at setup time (run dir file setup.json); `fresh: true` first
 * resets the server (resetInfluxDB2).
 */
export async function influxdb2Setup(opts: { org?: string; bucket?: string; token?: string; fresh?: boolean } = {}): Promise<InfluxDB2Setup> {
  if (opts.fresh) await resetInfluxDB2();
  const { url } = await ensureInfluxDB2();
  const saved = path.join(stack.runDir, 'influxdb2', 'setup.json');
  const allowed = (await (await fetch(`${url}/api/v2/setup`)).json()) as { allowed?: boolean };
  if (!allowed.allowed) {
    if (existsSync(saved)) return JSON.parse(await readFile(saved, 'utf8')) as InfluxDB2Setup;
    throw new Error(`InfluxDB 2 at ${url} is already set up but ${saved} is missing: scripts/stack/stop.sh --clean influxdb2`);
  }
  const org = opts.org ?? 'udf-sidecar';
  const bucket = opts.bucket ?? 'telegraf';
  const token = opts.token ?? 'udf-sidecar-test-operator-token';
  const res = await fetch(`${url}/api/v2/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'udf-sidecar-pass', org, bucket, token }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`InfluxDB 2 setup failed (${res.status}): ${text}`);
  const body = JSON.parse(text) as { org: { id: string }; bucket: { id: string }; auth: { token: string } };
  const out: InfluxDB2Setup = { url, org, orgID: body.org.id, bucket, bucketID: body.bucket.id, token: body.auth.token };
  await writeFile(saved, JSON.stringify(out, null, 2));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Kapacitor

/** Directory holding the built `kapacitord` and `kapacitor` binaries. */
export function kapacitorBinDir(): string {
  return path.join(stack.cacheDir, 'bin', `kapacitor-${stack.kapacitorVersion}`);
}

export interface KapacitordOptions {
  /** `[udf] [udf.functions.X] socket = "..." timeout = "10s"` text, appended verbatim ('' for none). */
  udfConf: string;
  /** Label for the temp dir and errors. */
  name?: string;
  /** Connect to our InfluxDB 1.8 with subscriptions (it pushes writes to this kapacitord over http). Default false. */
  influxdb?: boolean;
  /** More TOML appended after udfConf. */
  extraConf?: string;
  /** HTTP port; default KAPACITOR_PORT (19092). */
  port?: number;
}

export interface Kapacitord {
  url: string;
  dir: string;
  confPath: string;
  logPath: string;
  replayDir: string;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 30 s); removes InfluxDB subscriptions that point at this kapacitord. */
  stop(): Promise<void>;
  /** Runs the `kapacitor` CLI with `-url <url>` and ARGS; never throws on a non-zero exit. */
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
}

const liveKapacitords = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of liveKapacitords) c.kill('SIGKILL');
});

async function kapacitorPing(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/kapacitor/v1/ping`, { signal: AbortSignal.timeout(1000) });
    return res.status === 204;
  } catch {
    return false;
  }
}

/** Drops InfluxDB subscriptions whose destination is DEST (left by earlier kapacitords on the same port). */
async function dropSubscriptionsTo(dest: string): Promise<void> {
  let series: InfluxSeries[];
  try {
    series = await influxQuery('', 'SHOW SUBSCRIPTIONS');
  } catch {
    return;
  }
  for (const s of series) {
    const rpI = s.columns.indexOf('retention_policy');
    const nameI = s.columns.indexOf('name');
    const destI = s.columns.indexOf('destinations');
    for (const row of s.values) {
      const dests = (row[destI] as string[] | null) ?? [];
      if (dests.some((d) => d.replace(/\/+$/, '') === dest)) {
        await influxQuery('', `DROP SUBSCRIPTION ${ident(String(row[nameI]))} ON ${ident(s.name)}.${ident(String(row[rpI]))}`).catch(() => undefined);
      }
    }
  }
}

/** Removes kapacitord dirs of earlier runs (older than a day), so that the run dir does not grow without end. */
async function pruneOldKapacitordDirs(): Promise<void> {
  const base = path.join(stack.runDir, 'kapacitord');
  const cutoff = Date.now() - 24 * 3600_000;
  for (const e of await readdir(base, { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory()) continue;
    const d = path.join(base, e.name);
    try {
      if ((await stat(d)).mtimeMs < cutoff) await rm(d, { recursive: true, force: true });
    } catch {
      // raced with another run: fine
    }
  }
}

/**
 * Starts a kapacitord with a fresh data dir. The UDF sockets named in opts.udfConf must already be served: kapacitord
 * asks each UDF for Info at start and refuses to start otherwise. Throws with kapacitord's log tail on failure.
 */
export async function startKapacitord(opts: KapacitordOptions): Promise<Kapacitord> {
  const binDir = kapacitorBinDir();
  if (!existsSync(path.join(binDir, '.installed'))) await script('install.sh', ['kapacitor'], 40 * 60_000);
  const port = opts.port ?? stack.kapacitorPort;
  const url = `http://127.0.0.1:${port}`;
  if (await kapacitorPing(url)) {
    throw new Error(`a kapacitord already answers on ${url}: stop it first (a test did not call stop()?)`);
  }
  // kapacitord would retry a missing UDF socket silently for minutes: say so at once.
  for (const m of `${opts.udfConf}\n${opts.extraConf ?? ''}`.matchAll(/^\s*socket\s*=\s*"([^"]+)"/gm)) {
    const sock = m[1]!;
    let ok = false;
    try {
      ok = statSync(sock).isSocket();
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new Error(`UDF socket ${sock} (from udfConf) is not listening: start the sidecar before kapacitord`);
    }
  }
  let influx = '';
  if (opts.influxdb) {
    const { url: iurl } = await ensureInfluxDB();
    await dropSubscriptionsTo(url);
    influx = `
[[influxdb]]
  enabled = true
  name = "default"
  default = true
  urls = ["${iurl}"]
  timeout = "10s"
  startup-timeout = "1m"
  disable-subscriptions = false
  subscription-protocol = "http"
  subscription-mode = "cluster"
  subscriptions-sync-interval = "1m"
  kapacitor-hostname = "127.0.0.1"
  http-port = ${port}
  [influxdb.excluded-subscriptions]
    _kapacitor = ["autogen"]
`;
  } else {
    influx = `
[[influxdb]]
  enabled = false
  name = "default"
  urls = ["${influxUrl()}"]
`;
  }

  await mkdir(path.join(stack.runDir, 'kapacitord'), { recursive: true });
  await pruneOldKapacitordDirs();
  const dir = await mkdtemp(path.join(stack.runDir, 'kapacitord', `${(opts.name ?? 'kapacitord').replace(/[^\w.-]/g, '_')}-`));
  const replayDir = path.join(dir, 'replay');
  await mkdir(replayDir, { recursive: true });
  const confPath = path.join(dir, 'kapacitor.conf');
  const logPath = path.join(dir, 'kapacitord.log');
  const conf = `# Written by test/integration/stack.ts
hostname = "127.0.0.1"
data_dir = "${dir}/data"
skip-config-overrides = true
default-retention-policy = ""

[http]
  bind-address = "127.0.0.1:${port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  https-enabled = false

[replay]
  dir = "${replayDir}"

[storage]
  boltdb = "${dir}/kapacitor.db"

[task]
  dir = "${dir}/tasks"
  snapshot-interval = "60s"

[load]
  enabled = false
  dir = "${dir}/load"

[logging]
  file = "STDERR"
  level = "DEBUG"

[reporting]
  enabled = false

[stats]
  enabled = false

[fluxtask]
  enabled = false
${influx}
${opts.udfConf}
${opts.extraConf ?? ''}
`;
  await writeFile(confPath, conf);

  const fd = openSync(logPath, 'a');
  const child = spawn(path.join(binDir, 'kapacitord'), ['-config', confPath], {
    stdio: ['ignore', fd, fd],
    cwd: dir,
    env: { ...env, KAPACITOR_HOSTNAME: '127.0.0.1' },
  });
  closeSync(fd);
  liveKapacitords.add(child);
  // For scripts/stack/stop.sh kapacitord|all, should a test leave one behind.
  await writeFile(path.join(dir, 'kapacitord.pid'), `${child.pid}\n`);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      liveKapacitords.delete(child);
      resolve();
    });
  });
  child.on('error', () => undefined);

  const deadline = Date.now() + 90_000;
  while (!(await kapacitorPing(url))) {
    if (exited) {
      const e = exited as { code: number | null; signal: NodeJS.Signals | null };
      throw new Error(`kapacitord (${opts.name ?? 'kapacitord'}) exited during start-up (code ${e.code}, signal ${e.signal})\n${tail(logPath)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      const t = tail(logPath);
      const hint = /opening service.*udf\.Service\s*$/.test(t.trim())
        ? '\n(hint: it is stuck asking a UDF for Info: the sidecar socket accepts but does not answer?)'
        : '';
      throw new Error(`kapacitord (${opts.name ?? 'kapacitord'}) did not answer ${url}/kapacitor/v1/ping within 90 s${hint}\n${t}`);
    }
    await sleep(150);
  }

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exitPromise;
      clearTimeout(t);
    }
    if (opts.influxdb) await dropSubscriptionsTo(url);
  };
  const cli = (args: string[]) => run(path.join(binDir, 'kapacitor'), ['-url', url, ...args], { timeoutMs: 120_000 });
  return { url, dir, confPath, logPath, replayDir, pid: child.pid!, stop, cli };
}
