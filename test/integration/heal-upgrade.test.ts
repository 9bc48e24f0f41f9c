/**
 * A sidecar that Kapacitor never has to be told about: real kapacitord 1.8.3 and InfluxDB 1.8, 12 tasks (9 stream:
 * edgeDetect, movingAverage, rate; 3 batch: edgeDetectBatch) fed continuously, and three interruptions in one run:
 *
 *   1. kill -9 of the sidecar; the test, as a supervisor would, starts a new one (--kapacitor-url: it heals the tasks);
 *   2. a task disabled and enabled by hand, with Kapacitor's snapshot-interval at 1h (its snapshot is always older);
 *   3. an upgrade in place (`serve --takeover`) while a prober connects to a socket in a loop.
 *
 * Then every output written to InfluxDB is checked against what an uninterrupted run makes of the points Kapacitor
 * delivered: no false and no missed edge, no average over a lost window, no rate across a lost counter. Which points
 * were delivered is known exactly: each edgeDetect task has a second UDF node (movingAverage of size 1) that writes
 * every point it is given, and every movingAverage and rate output names its input point. Points Kapacitor dropped
 * while a task had no connection are counted and printed, not hidden. Answers Kapacitor dropped as it stopped a task
 * must have been sent again by the next connection (src/agent/answers-again.ts): none may be missing. Timings are
 * printed for docs/operations.md.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type Sidecar } from './sidecar.js';
import { createDatabase, dropDatabase, ensureInfluxDB, influxQuery, influxWriteLP, stack, startKapacitord, type Kapacitord } from './stack.js';

const DB = 'heal';
const STREAMS = [0, 1, 2];
const HOSTS = ['h0', 'h1'];
const T0 = 1_700_000_000_000_000_000n;
const S = 1_000_000_000n;
const kapacitorUrl = `http://127.0.0.1:${stack.kapacitorPort}`;
const sidecarArgs = ['--kapacitor-url', kapacitorUrl, '--heal-interval', '2s'];

let k: Kapacitord;
let sidecar: Sidecar;
let socketDir: string;
let tick = 0;
let feeding = true;
let feeder: Promise<void>;
const timings: Record<string, number> = {};

/** The value of edgeDetect's input at tick n for a host: runs of two, so a fresh state would emit a false edge. */
const stateAt = (n: number, host: string) => ((Math.floor(n / 2) + (host === 'h1' ? 1 : 0)) % 2 === 0 ? 'A' : 'B');
const counterAt = (n: number) => 10 * n * n;

const out = (i: number | string, name: string) =>
  `    |influxDBOut().database('${DB}').retentionPolicy('autogen').measurement('${name}').precision('ns').buffer(1).flushInterval(100ms)`;
const scripts: Record<string, { type: 'stream' | 'batch'; tick: string }> = {};
for (const i of STREAMS) {
  scripts[`edges_${i}`] = {
    type: 'stream',
    tick: [
      `var data = stream|from().measurement('st_${i}').groupBy('host')`,
      `data@edgeDetect().field('value')`,
      out(i, `edges_${i}`),
      `data@movingAverage().field('seq').size(1).as('seen')`,
      out(i, `seen_${i}`),
    ].join('\n'),
  };
  scripts[`avg_${i}`] = {
    type: 'stream',
    tick: [`stream|from().measurement('g_${i}').groupBy('host')`, `    @movingAverage().field('v').size(3).as('avg')`, out(i, `avg_${i}`)].join('\n'),
  };
  scripts[`rate_${i}`] = {
    type: 'stream',
    tick: [`stream|from().measurement('c_${i}').groupBy('host')`, `    @rate().field('n').unit(1s).as('r')`, out(i, `rate_${i}`)].join('\n'),
  };
  scripts[`bedges_${i}`] = {
    type: 'batch',
    tick: [
      `batch|query('SELECT value FROM "${DB}"."autogen"."bst_${i}"').period(1m).every(2s).groupBy('host')`,
      `    @edgeDetectBatch().field('value')`,
      out(i, `bedges_${i}`),
    ].join('\n'),
  };
}
const TASKS = Object.keys(scripts);
// Beside them, tasks healing must leave alone: one disabled, one that calls no function of ours (but names one in a
// comment and a string).
const others: Record<string, { tick: string; enabled: boolean }> = {
  off_edges: { enabled: false, tick: `stream|from().measurement('st_0')\n    @edgeDetect().field('value')\n${out(0, 'off_edges')}` },
  plain: { enabled: true, tick: `// not @edgeDetect()\nstream|from().measurement('st_0').where(lambda: "value" != '@rate()')\n${out(0, 'plain')}` },
};

async function kapacitor(args: string[]): Promise<string> {
  const r = await k.cli(args);
  if (r.code !== 0) throw new Error(`kapacitor ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function feedOnce(): Promise<void> {
  const n = tick++;
  const t = T0 + BigInt(n) * S;
  const lines: string[] = [];
  for (const i of STREAMS) {
    for (const h of HOSTS) {
      lines.push(`st_${i},host=${h} value="${stateAt(n, h)}",seq=${n} ${t}`);
      lines.push(`g_${i},host=${h} v=${n} ${t}`);
      lines.push(`c_${i},host=${h} n=${counterAt(n)}i ${t}`);
    }
  }
  const res = await fetch(`${k.url}/kapacitor/v1/write?db=${DB}&rp=autogen&precision=ns`, { method: 'POST', body: lines.join('\n') });
  if (res.status !== 204) throw new Error(`kapacitor write: ${res.status} ${await res.text()}`);
  // The batch tasks read InfluxDB: points at wall-clock time, inside the queries' 1m period.
  const now = BigInt(Date.now()) * 1_000_000n;
  await influxWriteLP(
    DB,
    'autogen',
    STREAMS.flatMap((i) => HOSTS.map((h) => `bst_${i},host=${h} value="${stateAt(n, h)}",seq=${n} ${now}`)),
  );
}

/** Rows of a measurement per host, by time: [time, ...fields]. */
async function rows(measurement: string, fields: string): Promise<Map<string, unknown[][]>> {
  const series = await influxQuery(DB, `SELECT ${fields} FROM "${measurement}" GROUP BY host`);
  return new Map(series.map((s) => [s.tags?.host ?? '', s.values]));
}

/** Waits until every task has written a point for input after tick `since` (batch: any new edge); returns ms. */
async function everyTaskEmitsAfter(since: number, started: number, what: string): Promise<number> {
  const sinceTime = T0 + BigInt(since) * S;
  const wallSince = BigInt(started) * 1_000_000n;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const waiting: string[] = [];
    for (const task of TASKS) {
      const [kind, i] = task.split('_');
      const m = kind === 'edges' ? `seen_${i}` : `${kind}_${i}`;
      const after = kind === 'bedges' ? wallSince : sinceTime;
      const r = await influxQuery(DB, `SELECT count(*) FROM "${m}" WHERE time > ${after}`);
      if (r.length === 0) waiting.push(task);
    }
    if (waiting.length === 0) return Date.now() - started;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: tasks not emitting again after 60 s: ${waiting.join(', ')}\n${(await k.cli(['list', 'tasks'])).stdout}\nsidecar:\n${sidecar.log().slice(-4000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Kills at a quiet moment of the continuous feed: right after a write has been handled, not inside one. */
async function betweenWrites(): Promise<void> {
  const at = tick;
  while (tick === at) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 150));
}

beforeAll(async () => {
  await ensureInfluxDB();
  await dropDatabase(DB);
  await createDatabase(DB);
  // Kapacitor's own snapshots are an hour apart: whatever continues, continues from the sidecar's state dir.
  process.env.KAPACITOR_TASK_SNAPSHOT_INTERVAL = '1h';
  sidecar = await startSidecar(undefined, { extraArgs: sidecarArgs, udfTimeout: '5s' });
  socketDir = sidecar.socketDir;
  k = await startKapacitord({ udfConf: sidecar.udfConf, influxdb: true, name: 'heal' });
  for (const [id, s] of Object.entries(scripts)) {
    const file = path.join(k.dir, `${id}.tick`);
    writeFileSync(file, s.tick);
    await kapacitor(['define', id, '-tick', file, '-dbrp', `${DB}.autogen`]);
    await kapacitor(['enable', id]);
  }
  for (const [id, s] of Object.entries(others)) {
    const file = path.join(k.dir, `${id}.tick`);
    writeFileSync(file, s.tick);
    await kapacitor(['define', id, '-tick', file, '-dbrp', `${DB}.autogen`]);
    if (s.enabled) await kapacitor(['enable', id]);
  }
  feeder = (async () => {
    while (feeding) {
      await feedOnce();
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await everyTaskEmitsAfter(0, Date.now(), 'start');
}, 300_000);

afterAll(async () => {
  feeding = false;
  await feeder?.catch(() => undefined);
  await k?.stop();
  await sidecar?.stop();
  process.stdout.write(`heal/upgrade timings (ms): ${JSON.stringify(timings)}\n`);
});

describe('a sidecar that heals its tasks and keeps their states (real kapacitord)', () => {
  it('kill -9: a new sidecar heals all 12 tasks with no person', async () => {
    await betweenWrites();
    const at = tick;
    await sidecar.kill();
    if (process.env.RECORD_TASKS) {
      // What healing sees (src/healer.test.ts, test/fixtures/kapacitor/tasks-after-kill.json): Kapacitor still says every task is executing.
      const res = await fetch(`${k.url}/kapacitor/v1/tasks?fields=status&fields=executing&fields=error&fields=script&script-format=raw`);
      writeFileSync(process.env.RECORD_TASKS, JSON.stringify(await res.json(), null, 2) + '\n');
    }
    await new Promise((r) => setTimeout(r, 2000)); // the supervisor's restart delay: Kapacitor drops what comes meanwhile
    const started = Date.now();
    sidecar = await startSidecar(socketDir, { extraArgs: sidecarArgs, udfTimeout: '5s' });
    timings.killToReadyMs = Date.now() - started;
    timings.healAllTasksMs = await everyTaskEmitsAfter(at, started, 'after kill -9');
    expect(sidecar.log()).toMatch(/"message":"healing: task connected again"/);
    expect(sidecar.log()).toMatch(/"message":"state continued from the state dir"/);
    // The dead process's last answers, rebuilt from its log, went to Kapacitor again (which took them: output goes on).
    expect(sidecar.log()).toMatch(/"message":"answers sent again: Kapacitor may have dropped them when the task stopped"/);
  });

  it('a task disabled and enabled mid-stream continues from the state dir, not from an hour-old snapshot', async () => {
    await betweenWrites();
    const at = tick;
    const started = Date.now();
    await kapacitor(['disable', 'edges_0']);
    await kapacitor(['enable', 'edges_0']);
    await everyTaskEmitsAfter(at, started, 'after disable/enable');
    timings.disableEnableMs = Date.now() - started;
  });

  it('an upgrade in place: the socket never goes missing, the old sidecar exits 0, every task is healed', async () => {
    await betweenWrites();
    const at = tick;
    const sock = path.join(socketDir, 'edgeDetect.sock');
    let probing = true;
    let probes = 0;
    const errors: string[] = [];
    const prober = (async () => {
      while (probing) {
        await new Promise<void>((resolve) => {
          const c = net.connect(sock);
          c.once('connect', () => (c.destroy(), resolve()));
          c.once('error', (e: NodeJS.ErrnoException) => (errors.push(e.code ?? e.message), resolve()));
        });
        probes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const old = sidecar;
    const started = Date.now();
    const oldExit = new Promise<number | null>((resolve) => old.child.once('exit', (c) => resolve(c)));
    sidecar = await startSidecar(socketDir, { extraArgs: [...sidecarArgs, '--takeover'], udfTimeout: '5s' });
    timings.takeoverReadyMs = Date.now() - started;
    timings.upgradeHealAllTasksMs = await everyTaskEmitsAfter(at, started, 'after the upgrade');
    expect(await oldExit).toBe(0);
    timings.oldExitedMs = Date.now() - started;
    probing = false;
    await prober;
    expect(probes).toBeGreaterThan(100);
    expect(errors.filter((e) => e === 'ENOENT' || e === 'ECONNREFUSED')).toEqual([]);
    expect(old.log()).toMatch(/"message":"draining: another sidecar took over the sockets"/);
  });

  it('outputs equal an uninterrupted run over the points Kapacitor delivered: no false or missed edge, no lost window or counter', async () => {
    feeding = false;
    await feeder;
    await new Promise((r) => setTimeout(r, 4500)); // the last outputs flushed, the batch queries (every 2s) ran again
    const fed = tick;
    const dropped: Record<string, number> = {};
    const lostAnswers: Record<string, number[]> = {};
    /**
     * Where the two ticks before an average's own (their sum `rest`) are the two outputs before it, or one of them is
     * the tick right after an output whose answer never reached InfluxDB: a point delivered just before a restart
     * (the kill, the stop that heals, the disable) whose answer Kapacitor dropped and was not sent again. The state
     * kept the point, so the averages after it still include it. Such answers are found to name them, and none may
     * be. A lost window instead shows as two or more missing outputs after the ticks Kapacitor dropped.
     */
    const windowOf = (rest: number, t: number, prev: number, before: number): { lost: number | null } | null => {
      const near = (x: number, y: number) => Math.abs(x - y) < 1e-6;
      if (near(rest, prev + before)) return { lost: null };
      if (prev + 1 < t && near(rest, prev + 1 + prev)) return { lost: prev + 1 };
      if (before + 1 < prev && near(rest, prev + before + 1)) return { lost: before + 1 };
      return null;
    };
    for (const i of STREAMS) {
      const seen = await rows(`seen_${i}`, 'seen');
      const edges = await rows(`edges_${i}`, 'seq, value');
      for (const h of HOSTS) {
        const delivered = (seen.get(h) ?? []).map((r) => Number(r[1]));
        dropped[`edges_${i}/${h}`] = fed - delivered.length;
        const want: number[] = [];
        let prev: string | null = null;
        for (const n of delivered) {
          if (stateAt(n, h) !== prev) want.push(n);
          prev = stateAt(n, h);
        }
        // Edges of points fed after `seen` was read are not in the reference.
        const last = delivered[delivered.length - 1];
        expect(
          (edges.get(h) ?? []).map((r) => Number(r[1])).filter((n) => n <= last),
          `edges_${i} ${h}`,
        ).toEqual(want);
      }
      const avg = await rows(`avg_${i}`, 'avg');
      const rate = await rows(`rate_${i}`, 'r');
      for (const h of HOSTS) {
        // Each output's input tick from its time; a window or a counter lost at a restart would break the chain.
        const a = (avg.get(h) ?? []).map((r) => [Number(((r[0] as bigint) - T0) / S), r[1] as number] as const);
        dropped[`avg_${i}/${h}`] = fed - a.length - 2;
        const lostAvg = new Set<number>();
        for (let j = 2; j < a.length; j++) {
          const window = windowOf(a[j][1] * 3 - a[j][0], a[j][0], a[j - 1][0], a[j - 2][0]);
          if (window !== null && window.lost !== null) lostAvg.add(window.lost);
          expect(window, `avg_${i} ${h} at tick ${a[j][0]}: ${a[j][1]} is no average of it and the ticks before`).not.toBeNull();
        }
        lostAnswers[`avg_${i}/${h}`] = [...lostAvg];
        const r = (rate.get(h) ?? []).map((x) => [Number(((x[0] as bigint) - T0) / S), x[1] as number] as const);
        dropped[`rate_${i}/${h}`] = fed - r.length - 1;
        const lostRate = new Set<number>();
        const rateSince = (t: number, from: number) => (counterAt(t) - counterAt(from)) / (t - from);
        for (let j = 1; j < r.length; j++) {
          const [t, value] = r[j];
          const prev = r[j - 1][0];
          if (Math.abs(value - rateSince(t, prev)) < 1e-6) continue;
          // The gap found to be named (see windowOf): the answer to the point right after the previous output was lost.
          expect(prev + 1 < t && Math.abs(value - rateSince(t, prev + 1)) < 1e-6, `rate_${i} ${h} at tick ${t}: ${value}`).toBe(true);
          lostRate.add(prev + 1);
        }
        lostAnswers[`rate_${i}/${h}`] = [...lostRate];
      }
      // Batch: the queries read every point again (1m period), so the reference is the edges of all of them.
      const input = await rows(`bst_${i}`, 'value');
      for (const h of HOSTS) {
        const want: bigint[] = [];
        let prev: unknown = null;
        for (const [t, v] of input.get(h) ?? []) {
          if (v !== prev) want.push(t as bigint);
          prev = v;
        }
        // The newest points may not have been in a query yet (one every 2s): read the edges again until the queries
        // have covered every point read above, or 20 s have passed; then compare. Edges of points read later are not
        // in the reference.
        const last = want[want.length - 1];
        const edgesOf = async () => ((await rows(`bedges_${i}`, 'value')).get(h) ?? []).map((x) => x[0] as bigint).filter((t) => t <= last);
        let got = await edgesOf();
        for (const deadline = Date.now() + 20_000; got[got.length - 1] !== last && Date.now() < deadline; got = await edgesOf()) {
          await new Promise((r) => setTimeout(r, 1000));
        }
        // Points older than the first query's period were never in a batch: compare from the first edge on.
        expect(got.length).toBeGreaterThan(0);
        expect(got, `bedges_${i} ${h}`).toEqual(want.filter((t) => t >= got[0]));
      }
    }
    process.stdout.write(`fed ${fed} ticks per host; points Kapacitor dropped while tasks had no connection: ${JSON.stringify(dropped)}\n`);
    // What Kapacitor dropped as it stopped a task was sent again: no answer is missing next to a restart.
    for (const [series, ticks] of Object.entries(lostAnswers)) expect(ticks, `${series}: answers lost at ticks ${ticks}`).toEqual([]);
  });
});
