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
 *
 * kapacitord and /proc: kapacitord.ts; the workload and its expected outputs: kapacitor-workload.ts; one run:
 * kapacitor-run.ts; the report: kapacitor-report.ts.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild, stopChildren, writeSection } from './common.js';
import { api, childRunning, ROOT, startKapacitord } from './kapacitord.js';
import { type Row, report } from './kapacitor-report.js';
import { type Measured, runOnce, taskId, tickscript, type Variant } from './kapacitor-run.js';
import { buildWorkload, type Expected, expected, SIZE } from './kapacitor-workload.js';

const RUN_DIR = process.env.UDF_STACK_RUN || '/tmp/udf-sidecar-stack';

/**
 * Every run enables a variant's task under the same ID: a state dir would continue the previous run's windows, and the
 * averages would come from the first point on.
 */
const SERVE_ARGS = ['--functions', 'movingAverage', '--no-state-dir'];

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
      [...nodeArgs, cli, 'serve', ...SERVE_ARGS, '--socket-dir', sockDir],
      (l) => l.includes('"message":"ready"'),
      nodeArgs.length ? 'inherit' : 'ignore',
    );
    children.push(sidecar);
    const otherCli = values['other-cli'];
    let other: ChildProcess | null = null;
    if (otherCli) {
      const otherDir = path.join(dir, 'other');
      await mkdir(otherDir);
      other = await startChild('other sidecar', process.execPath, [otherCli, 'serve', ...SERVE_ARGS, '--socket-dir', otherDir], (l) =>
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
