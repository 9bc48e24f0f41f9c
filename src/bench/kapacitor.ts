/**
 * `npm run bench:kapacitor`: the real path. A real kapacitord (the one scripts/stack/install.sh builds) runs
 *
 *   stream|from().measurement('cpu').groupBy('host') | <moving average of usage over 10 points, as avg>
 *         |cumulativeSum('avg')|httpOut('check')
 *
 * with the average computed by each variant in turn: Kapacitor's built-in movingAverage; the sidecar's @movingAverage
 * over its socket and in process mode; Kapacitor's own Go agent example moving_avg in process mode and, through the
 * agent package's agent.NewServer, over a socket (built by scripts/bench/build-go-agent.sh). Points are written to
 * kapacitord's /kapacitor/v1/write as line protocol, prepared before the clock starts; the clock stops when the task's
 * cumulativeSum node has emitted one point per average (its stats, polled). Each run enables its task afresh (a new
 * UDF connection or process, fresh state). Then every output is checked: the number of averages, and per group the
 * cumulative sum of the averages (so every value counts) and the time of the last one, against what the workload
 * must give; a wrong one fails the benchmark.
 *
 * CPU: utime + stime from /proc of kapacitord and of the UDF process (the sidecar, the Go server, or the child
 * kapacitord started for the task), before and after each run, per point written.
 *
 *   npm run bench:kapacitor [-- --points 200000 --reps 5 --groups 1,1000 --variants a,b --out docs/benchmarks.md]
 *   (--out - prints only; KAPACITOR_PORT and UDF_STACK_RUN/UDF_STACK_CACHE as for the test stack)
 *   --sidecar-node-arg=ARG (repeatable): a Node option for the sidecar in both modes (e.g. --cpu-prof)
 *   kapacitord serves /kapacitor/v1/debug/pprof: `go tool pprof -top http://127.0.0.1:PORT/kapacitor/v1/debug/pprof/profile?seconds=10`
 *   during a run shows where its time goes.
 *   --other-cli PATH: another build's dist/cli.js, run as two more variants (other-socket, other-process) in the same
 *                     rounds, for an A/B comparison in one window
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, machine, median, quantile, startChild, stopChildren, writeSection } from './common.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const env = process.env;
const CACHE = env.UDF_STACK_CACHE || path.join(os.homedir(), '.cache', 'kapacitor-udf-sidecar');
const RUN_DIR = env.UDF_STACK_RUN || '/tmp/udf-sidecar-stack';
const KAPACITOR_VERSION = env.KAPACITOR_VERSION || '1.8.3';
const PORT = Number(env.KAPACITOR_PORT || 19092);
const URL_BASE = `http://127.0.0.1:${PORT}/kapacitor/v1`;
const SIZE = 10;
const LINES_PER_WRITE = 5000;
const RUN_TIMEOUT_MS = 300_000;
const POLL_MS = 20;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** How a variant's averages come out: the built-in and the sidecar emit once the window is full, the Go example from
 * the first point (the mean of what it has). */
type Emits = 'when-full' | 'from-first';

interface Variant {
  name: string;
  label: string;
  mode: 'built-in' | 'socket' | 'process';
  /** The node that computes the average, as TICKscript. */
  node: string;
  emits: Emits;
  /** The process whose CPU is the UDF's: a pid, or found among kapacitord's children at each run. */
  udfPid(kapacitordPid: number): number | null;
}

// ---------------------------------------------------------------------------------------------------------------------
// The workload and what it must give

interface Workload {
  points: number;
  groups: number;
  /** Line protocol, LINES_PER_WRITE lines a body. */
  bodies: Uint8Array<ArrayBuffer>[];
}

const T0 = 1_700_000_000_000_000_000n;
const STEP = 1_000_000_000n;

const usage = (k: number, g: number): number => 50 + 40 * Math.sin(k / 7 + g);
const pointTime = (k: number, g: number): bigint => T0 + BigInt(k) * STEP + BigInt(g);
const perGroup = (w: Workload, g: number): number => Math.floor(w.points / w.groups) + (g < w.points % w.groups ? 1 : 0);

function buildWorkload(points: number, groups: number): Workload {
  const bodies: Uint8Array<ArrayBuffer>[] = [];
  const utf8 = new TextEncoder();
  let lines: string[] = [];
  for (let i = 0; i < points; i++) {
    const g = i % groups;
    const k = Math.floor(i / groups);
    lines.push(`cpu,host=host-${g} usage=${usage(k, g)} ${pointTime(k, g)}`);
    if (lines.length === LINES_PER_WRITE || i === points - 1) {
      bodies.push(utf8.encode(lines.join('\n')));
      lines = [];
    }
  }
  return { points, groups, bodies };
}

interface Expected {
  outputs: number;
  /** Per host tag: the sum of its averages and the time of its last. */
  groups: Map<string, { sum: number; scale: number; last: bigint }>;
}

function expected(w: Workload, emits: Emits): Expected {
  const groups = new Map<string, { sum: number; scale: number; last: bigint }>();
  let outputs = 0;
  for (let g = 0; g < w.groups; g++) {
    const n = perGroup(w, g);
    let sum = 0;
    let scale = 0;
    const window: number[] = [];
    for (let k = 0; k < n; k++) {
      window.push(usage(k, g));
      if (window.length > SIZE) window.shift();
      if (window.length < SIZE && emits === 'when-full') continue;
      const avg = window.reduce((a, b) => a + b, 0) / window.length;
      sum += avg;
      scale += Math.abs(avg);
      outputs++;
    }
    if (sum !== 0 || scale !== 0) groups.set(`host-${g}`, { sum, scale, last: pointTime(n - 1, g) });
  }
  return { outputs, groups };
}

// ---------------------------------------------------------------------------------------------------------------------
// kapacitord

async function api(method: string, p: string, body?: unknown): Promise<unknown> {
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

async function startKapacitord(dir: string, udfConf: string): Promise<{ child: ChildProcess; log: string }> {
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

// ---------------------------------------------------------------------------------------------------------------------
// /proc

/** utime + stime of a process, in µs. */
function cpuMicros(pid: number): number {
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

function childRunning(kapacitordPid: number, needle: string): number | null {
  for (const pid of childrenOf(kapacitordPid)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------------
// One run

interface Measured {
  seconds: number;
  kapacitordUs: number;
  udfUs: number | null;
}

interface TaskJson {
  executing: boolean;
  error: string;
  stats?: { 'node-stats'?: Record<string, { emitted?: number; errors?: number }> };
}

const taskId = (v: Variant) => `bench_${v.name.replace(/-/g, '_')}`;

function tickscript(v: Variant): string {
  return `stream
  |from().measurement('cpu').groupBy('host')
  ${v.node}
  |cumulativeSum('avg').as('sum')
  |httpOut('check')
`;
}

async function emitted(id: string, node: string): Promise<{ n: number; task: TaskJson }> {
  const task = (await api('GET', `/tasks/${id}`)) as TaskJson;
  const stats = task.stats?.['node-stats'] ?? {};
  const key = Object.keys(stats).find((k) => k.startsWith(node));
  return { n: key ? Number(stats[key]?.emitted ?? 0) : 0, task };
}

async function runOnce(v: Variant, w: Workload, want: Expected, kapacitordPid: number): Promise<Measured> {
  const id = taskId(v);
  await api('PATCH', `/tasks/${id}`, { status: 'enabled' });
  try {
    const deadline = Date.now() + 30_000;
    let udfPid = v.udfPid(kapacitordPid);
    while (!(await emitted(id, 'cumulativeSum')).task.executing || (v.mode === 'process' && udfPid === null)) {
      if (Date.now() > deadline) throw new Error(`${v.name}: task did not start executing`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      udfPid = v.udfPid(kapacitordPid);
    }
    const k0 = cpuMicros(kapacitordPid);
    const u0 = udfPid === null ? 0 : cpuMicros(udfPid);
    const t0 = performance.now();
    for (const body of w.bodies) {
      const res = await fetch(`${URL_BASE}/write?db=bench&rp=autogen&precision=ns`, { method: 'POST', body });
      if (res.status !== 204) throw new Error(`${v.name}: write answered ${res.status} ${(await res.text()).trim()}`);
    }
    let seen = 0;
    for (;;) {
      const { n, task } = await emitted(id, 'cumulativeSum');
      seen = n;
      if (n >= want.outputs) break;
      if (task.error) throw new Error(`${v.name}: task failed: ${task.error}`);
      if (performance.now() - t0 > RUN_TIMEOUT_MS) throw new Error(`${v.name}: ${n} of ${want.outputs} outputs after ${RUN_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const seconds = (performance.now() - t0) / 1000;
    const kapacitordUs = cpuMicros(kapacitordPid) - k0;
    const udfUs = udfPid === null ? null : cpuMicros(udfPid) - u0;
    // Late extras would show as a count above the total: give them a moment to arrive, then check everything.
    await new Promise((r) => setTimeout(r, 100));
    seen = (await emitted(id, 'cumulativeSum')).n;
    if (seen !== want.outputs) throw new Error(`${v.name}: ${seen} outputs, expected ${want.outputs}`);
    await check(v, want);
    return { seconds, kapacitordUs, udfUs };
  } finally {
    await api('PATCH', `/tasks/${id}`, { status: 'disabled' });
  }
}

async function check(v: Variant, want: Expected): Promise<void> {
  const out = (await api('GET', `/tasks/${taskId(v)}/check`)) as {
    series?: Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }>;
  };
  const series = out.series ?? [];
  if (series.length !== want.groups.size) throw new Error(`${v.name}: ${series.length} groups came out, expected ${want.groups.size}`);
  for (const s of series) {
    const host = s.tags?.host ?? '';
    const w = want.groups.get(host);
    if (!w) throw new Error(`${v.name}: unexpected group host=${host}`);
    const row = s.values[0] ?? [];
    const sum = Number(row[s.columns.indexOf('sum')]);
    // httpOut gives RFC 3339 times with nanoseconds: compared whole, never through a double.
    const text = String(row[s.columns.indexOf('time')]);
    if (rfc3339Nanos(text) !== w.last) throw new Error(`${v.name}: host=${host} last average at ${text}, expected ${w.last} ns`);
    // Float rounding differs between implementations (a running sum, a window re-added): 1e-9 of the magnitude.
    if (!(Math.abs(sum - w.sum) <= 1e-9 * w.scale)) {
      throw new Error(`${v.name}: host=${host} sum of the averages ${sum}, expected ${w.sum}`);
    }
  }
}

/** An RFC 3339 UTC time with up to nine fractional digits, as exact nanoseconds. */
function rfc3339Nanos(text: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`time ${text} is not RFC 3339 UTC`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

// ---------------------------------------------------------------------------------------------------------------------
// The report

interface Row {
  variant: Variant;
  groups: number;
  points: number;
  runs: Measured[];
}

const med = (xs: number[]): number => median(xs);
const fix = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '–');

/** Each repetition's value of `a` over the one of `b` measured in the same round: the middle half, and the median. */
function paired(a: Row, b: Row, f: (m: Measured) => number): { med: number; q1: number; q3: number } {
  const r = a.runs.map((m, i) => f(m) / f(b.runs[i]));
  return { med: median(r), q1: quantile(r, 0.25), q3: quantile(r, 0.75) };
}

function table(rows: Row[]): string {
  const lines = [
    '| groups | variant | median s | (min–max) | × built-in, paired | × Go agent same mode, paired (quartiles) | kapacitord CPU µs/point | UDF CPU µs/point |',
    '|---:|---|---:|---|---:|---|---:|---:|',
  ];
  for (const r of rows) {
    const same = rows.filter((o) => o.groups === r.groups);
    const builtin = same.find((o) => o.variant.mode === 'built-in');
    const go = same.find((o) => o.variant.name === `go-${r.variant.mode}`);
    const secs = r.runs.map((m) => m.seconds);
    const vsBuiltin = builtin ? fix(paired(r, builtin, (m) => m.seconds).med) : '–';
    let vsGo = '–';
    if (go && go !== r && r.variant.mode !== 'built-in') {
      const p = paired(r, go, (m) => m.seconds);
      vsGo = `${fix(p.med)} (${fix(p.q1)}–${fix(p.q3)})`;
    }
    const kap = med(r.runs.map((m) => m.kapacitordUs)) / r.points;
    const udf = r.variant.mode === 'built-in' ? NaN : med(r.runs.map((m) => m.udfUs ?? NaN)) / r.points;
    lines.push(
      `| ${r.groups.toLocaleString('en-US')} | ${r.variant.label} | ${fix(med(secs))} | ${fix(Math.min(...secs))}–${fix(Math.max(...secs))} | ${vsBuiltin} | ${vsGo} | ${fix(kap, 1)} | ${fix(udf, 1)} |`,
    );
  }
  return lines.join('\n');
}

function targets(rows: Row[]): string {
  const out: string[] = [];
  for (const groups of [...new Set(rows.map((r) => r.groups))]) {
    const by = (name: string) => rows.find((r) => r.groups === groups && r.variant.name === name);
    for (const mode of ['socket', 'process'] as const) {
      const side = by(`sidecar-${mode}`);
      const go = by(`go-${mode}`);
      if (!side || !go) continue;
      const t = paired(side, go, (m) => m.seconds).med;
      const kapSide = med(side.runs.map((m) => m.kapacitordUs));
      const kapGo = med(go.runs.map((m) => m.kapacitordUs));
      const udf = med(side.runs.map((m) => m.udfUs ?? NaN)) / side.points;
      const ok = (b: boolean) => (b ? 'met' : '**not met**');
      out.push(
        `- ${groups.toLocaleString('en-US')} group(s), ${mode}: time ${fix(t)}× the Go agent (target ≤ 0.75: ${ok(t <= 0.75)}); ` +
          `sidecar CPU ${fix(udf)} µs/point (target ≤ 1.5: ${ok(udf <= 1.5)}); kapacitord CPU ${fix(kapSide / side.points, 1)} vs ` +
          `${fix(kapGo / go.points, 1)} µs/point with the Go agent (target ≤: ${ok(kapSide <= kapGo)})`,
      );
    }
  }
  return out.join('\n');
}

function report(rows: Row[], o: { points: number; reps: number; loadavg: string }): string {
  return `## Through real kapacitord (\`npm run bench:kapacitor\`)

Generated on ${new Date().toISOString()} with kapacitord ${KAPACITOR_VERSION}. Machine: ${machine()}; load average
at the start ${o.loadavg}${os.cpus().length <= 2 ? ' (the machine is shared: other engineers\u2019 builds and tests ran meanwhile)' : ''}.

${table(rows)}

Targets (medians of the paired ratios and of the CPU per point):

${targets(rows)}

- **What runs**: \`stream|from().measurement('cpu').groupBy('host')\`, then the average of \`usage\` over the last
  ${SIZE} points per group as \`avg\`, then \`|cumulativeSum('avg')|httpOut('check')\`. ${o.points.toLocaleString('en-US')}
  points per run written to kapacitord's \`/kapacitor/v1/write\` in bodies of ${LINES_PER_WRITE.toLocaleString('en-US')}
  lines, one request at a time; the clock runs from the first write until cumulativeSum has emitted one point per
  average (task stats polled every ${POLL_MS} ms). Each run enables its task afresh: a new connection (or process)
  and fresh state.
- **Variants**: built-in \`|movingAverage('usage', ${SIZE}).as('avg')\`; \`@movingAverage().field('usage').size(${SIZE}).as('avg')\`
  over the sidecar's socket (\`udf-sidecar serve\`) and in process mode (\`udf-sidecar run movingAverage\`); Kapacitor's
  own Go example \`udf/agent/examples/moving_avg\` (v${KAPACITOR_VERSION}, built by \`scripts/bench/build-go-agent.sh\`) in
  process mode and over a socket served by its agent package's \`agent.NewServer\`. The Go example emits from the first
  point of a group (the mean of what it has), the others once ${SIZE} points were seen.
- **Checked**: the number of averages exactly; per group the time of the last average and the sum of all of them
  (within 1e-9 of their magnitude: the implementations round differently), against the workload's own arithmetic.
  A wrong output fails the benchmark.
- **CPU**: utime + stime from \`/proc/PID/stat\` of kapacitord and of the UDF's process (for process mode the child
  kapacitord started for the task) over the run, divided by the points written. Kapacitord's includes parsing the
  line protocol and the nodes around the average, the same in every variant.
- **Ratios**: ${o.reps} rounds; in each round every variant runs once, one after another, so the ratio of two variants
  in the same round is less exposed to the machine drifting; the medians of those paired ratios are shown.
`;
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      points: { type: 'string', default: '200000' },
      reps: { type: 'string', default: '5' },
      groups: { type: 'string', default: '1,1000' },
      variants: { type: 'string', default: 'built-in,sidecar-socket,sidecar-process,go-socket,go-process' },
      out: { type: 'string', default: fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)) },
      'sidecar-node-arg': { type: 'string', multiple: true, default: [] },
      'other-cli': { type: 'string' },
    },
  });
  const points = Number(values.points);
  const reps = Number(values.reps);
  const groupCounts = String(values.groups).split(',').map(Number);
  if (!Number.isSafeInteger(points) || points <= 0) throw new Error(`--points ${values.points} is not a positive integer`);
  if (!Number.isSafeInteger(reps) || reps <= 0) throw new Error(`--reps ${values.reps} is not a positive integer`);
  if (groupCounts.some((g) => !Number.isSafeInteger(g) || g <= 0 || g > points / SIZE)) {
    throw new Error(`--groups ${values.groups}: each must be a positive integer of at most points/${SIZE}`);
  }
  const loadavg = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');

  const goAgent = execFileSync('bash', [path.join(ROOT, 'scripts/bench/build-go-agent.sh')], { encoding: 'utf8' }).trim();
  const cli = path.join(ROOT, 'dist/cli.js');
  const nodeArgs = values['sidecar-node-arg'] ?? [];
  await mkdir(RUN_DIR, { recursive: true });
  const dir = await mkdtemp(path.join(RUN_DIR, 'bench-kapacitor-'));
  const children: ChildProcess[] = [];
  let kapacitord: ChildProcess | null = null;
  try {
    const sockDir = path.join(dir, 'sock');
    await mkdir(sockDir);
    const sidecar = await startChild(
      'sidecar',
      process.execPath,
      [...nodeArgs, cli, 'serve', '--socket-dir', sockDir, '--functions', 'movingAverage'],
      (l) => l.includes('"message":"ready"'),
      nodeArgs.length ? 'inherit' : 'ignore',
    );
    children.push(sidecar);
    const otherCli = values['other-cli'];
    let other: ChildProcess | null = null;
    if (otherCli) {
      const otherDir = path.join(dir, 'other');
      await mkdir(otherDir);
      other = await startChild('other sidecar', process.execPath, [otherCli, 'serve', '--socket-dir', otherDir, '--functions', 'movingAverage'], (l) =>
        l.includes('"message":"ready"'),
      );
      children.push(other);
    }
    const goSock = path.join(sockDir, 'goMovingAvg.sock');
    const goServer = await startChild('Go agent', goAgent, ['-socket', goSock], (l) => l === 'ready');
    children.push(goServer);
    const toml = (s: string) => JSON.stringify(s);
    const udfConf = `[udf]
[udf.functions.movingAverage]
  socket = ${toml(path.join(sockDir, 'movingAverage.sock'))}
  timeout = "10s"
[udf.functions.movingAverageProcess]
  prog = ${toml(process.execPath)}
  args = [${[...nodeArgs, cli, 'run', 'movingAverage'].map(toml).join(', ')}]
  timeout = "10s"
[udf.functions.goMovingAvgSocket]
  socket = ${toml(goSock)}
  timeout = "10s"
[udf.functions.goMovingAvg]
  prog = ${toml(goAgent)}
  timeout = "10s"
${
  otherCli
    ? `[udf.functions.otherSocket]
  socket = ${toml(path.join(dir, 'other', 'movingAverage.sock'))}
  timeout = "10s"
[udf.functions.otherProcess]
  prog = ${toml(process.execPath)}
  args = [${[otherCli, 'run', 'movingAverage'].map(toml).join(', ')}]
  timeout = "10s"
`
    : ''
}`;
    const sidecarOpts = `.field('usage').size(${SIZE}).as('avg')`;
    const all: Variant[] = [
      {
        name: 'built-in',
        label: "built-in `movingAverage('usage', 10)`",
        mode: 'built-in',
        node: `|movingAverage('usage', ${SIZE}).as('avg')`,
        emits: 'when-full',
        udfPid: () => null,
      },
      {
        name: 'sidecar-socket',
        label: '`@movingAverage()` sidecar, socket',
        mode: 'socket',
        node: `@movingAverage()${sidecarOpts}`,
        emits: 'when-full',
        udfPid: () => sidecar.pid ?? null,
      },
      {
        name: 'sidecar-process',
        label: 'sidecar, process mode',
        mode: 'process',
        node: `@movingAverageProcess()${sidecarOpts}`,
        emits: 'when-full',
        udfPid: (k) => childRunning(k, `${cli}\0run`),
      },
      {
        name: 'go-socket',
        label: 'Go agent `moving_avg`, socket (`agent.NewServer`)',
        mode: 'socket',
        node: `@goMovingAvgSocket()${sidecarOpts}`,
        emits: 'from-first',
        udfPid: () => goServer.pid ?? null,
      },
      {
        name: 'go-process',
        label: 'Go agent `moving_avg`, process mode',
        mode: 'process',
        node: `@goMovingAvg()${sidecarOpts}`,
        emits: 'from-first',
        udfPid: (k) => childRunning(k, goAgent),
      },
    ];
    if (otherCli) {
      all.push(
        {
          name: 'other-socket',
          label: `other build (${otherCli}), socket`,
          mode: 'socket',
          node: `@otherSocket()${sidecarOpts}`,
          emits: 'when-full',
          udfPid: () => other?.pid ?? null,
        },
        {
          name: 'other-process',
          label: 'other build, process mode',
          mode: 'process',
          node: `@otherProcess()${sidecarOpts}`,
          emits: 'when-full',
          udfPid: (k) => childRunning(k, `${otherCli}\0run`),
        },
      );
    }
    const wanted = String(values.variants).split(',');
    const unknown = wanted.filter((n) => !all.some((v) => v.name === n));
    if (unknown.length) throw new Error(`--variants: unknown ${unknown.join(', ')} (known: ${all.map((v) => v.name).join(', ')})`);
    const variants = all.filter((v) => wanted.includes(v.name));

    const k = await startKapacitord(dir, udfConf);
    kapacitord = k.child;
    const kpid = kapacitord.pid as number;
    for (const v of variants) {
      await api('POST', '/tasks', { id: taskId(v), type: 'stream', dbrps: [{ db: 'bench', rp: 'autogen' }], script: tickscript(v), status: 'disabled' });
    }

    const rows: Row[] = [];
    for (const groups of groupCounts) {
      const w = buildWorkload(points, groups);
      const wants = new Map(variants.map((v) => [v.name, expected(w, v.emits)]));
      const warm = buildWorkload(Math.max(SIZE * groups, Math.floor(points / 5)), groups);
      for (const v of variants) await runOnce(v, warm, expected(warm, v.emits), kpid);
      const byVariant = new Map(variants.map((v) => [v.name, [] as Measured[]]));
      for (let r = 0; r < reps; r++) {
        const line: string[] = [];
        for (const v of variants) {
          const m = await runOnce(v, w, wants.get(v.name) as Expected, kpid);
          byVariant.get(v.name)?.push(m);
          line.push(
            `${v.name} ${m.seconds.toFixed(2)} s (k ${(m.kapacitordUs / points).toFixed(1)}, udf ${m.udfUs === null ? '–' : (m.udfUs / points).toFixed(1)} µs/pt)`,
          );
        }
        process.stderr.write(`groups=${groups} round ${r + 1}/${reps}: ${line.join(', ')}\n`);
      }
      for (const v of variants) rows.push({ variant: v, groups, points, runs: byVariant.get(v.name) ?? [] });
    }

    const text = report(rows, { points, reps, loadavg });
    process.stdout.write(`\n${text}\n`);
    if (values.out !== '-') {
      await writeSection(String(values.out), 'kapacitor', text);
      process.stdout.write(`\nwrote ${values.out}\n`);
    }
  } finally {
    if (kapacitord) await stopChildren([kapacitord]);
    await stopChildren(children);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:kapacitor: ${(err as Error).message}\n`);
  process.exit(1);
});
