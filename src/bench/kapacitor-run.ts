/**
 * One run of `npm run bench:kapacitor` (see kapacitor.ts): a variant's task enabled afresh, the workload written to
 * kapacitord, the clock stopped once the task has emitted every average, then every output checked.
 */
import { api, cpuMicros, URL_BASE } from './kapacitord.js';
import type { Emits, Expected, Workload } from './kapacitor-workload.js';

const RUN_TIMEOUT_MS = 300_000;
export const POLL_MS = 20;

export interface Variant {
  name: string;
  label: string;
  mode: 'built-in' | 'socket' | 'process';
  /** The node that computes the average, as TICKscript. */
  node: string;
  emits: Emits;
  /** The process whose CPU is the UDF's: a pid, or found among kapacitord's children at each run. */
  udfPid(kapacitordPid: number): number | null;
}

export interface Measured {
  seconds: number;
  kapacitordUs: number;
  udfUs: number | null;
}

interface TaskJson {
  executing: boolean;
  error: string;
  stats?: { 'node-stats'?: Record<string, { emitted?: number; errors?: number }> };
}

export const taskId = (v: Variant) => `bench_${v.name.replace(/-/g, '_')}`;

export function tickscript(v: Variant): string {
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

export async function runOnce(v: Variant, w: Workload, want: Expected, kapacitordPid: number): Promise<Measured> {
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
