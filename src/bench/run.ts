/**
 * `npm run bench`: points/s through each stream function against a raw Unix-socket echo of the same frames, in the
 * same run, and docs/benchmarks.md with the ratios.
 *
 * Both servers are child processes (the sidecar is the real CLI, `serve --socket-dir`), so both sides of the ratio pay
 * for the same process and socket boundaries; the ratio is what the sidecar costs over moving the bytes. Each
 * repetition opens a fresh connection (fresh group state), sends Init and waits for its answer, then times from the
 * first write of the pre-encoded points to the answer of a Keepalive sent after them — answered in order, so it
 * arrives after every output. Two ways of feeding, each measured against the echo fed the same way: `bulk` writes large
 * slices of one buffer; `kapacitor` writes the way Kapacitor's UDF node does, each point as two writes (its length,
 * then its message), one after another, no batching. Both honour backpressure. Kapacitor's own Go agent example
 * moving_avg (scripts/bench/build-go-agent.sh) is measured too, served over a socket by its agent.NewServer and fed the
 * same frames. The machine this runs on is shared and noisy: runs are interleaved (echo, then each function, per
 * repetition) and medians are reported.
 *
 *   npm run bench [-- --points 200000 --reps 11 --groups 1,10000 --feed bulk,kapacitor --out docs/benchmarks.md]
 *                            (--out - : print only)
 *   --sidecar-arg=ARG        (repeatable) a `serve` option: --sidecar-arg=--no-state-dir
 *   --sidecar-node-arg=ARG   (repeatable) a Node option for the sidecar: --sidecar-node-arg=--cpu-prof
 *                            --sidecar-node-arg=--cpu-prof-dir=/tmp/prof writes a CPU profile (open it in DevTools)
 *   --compare-cli PATH       A/B: another build's dist/cli.js, served beside this one with the same options and run
 *                            right before or after it in every repetition; reports both medians and the median of
 *                            the paired ratios (this build ÷ that one), and an A/B section in --out
 *   --compare-label NAME     what to call that build (default "baseline")
 *   --rounds N               the sidecars are started afresh N times (default 3), and the repetitions shared out
 *                            among their lifetimes: what V8 compiled in one process (which helpers it inlined) can
 *                            move a row by 10% for that process's whole life, so one lifetime per build is one sample
 *
 * One timed run is drive.ts; what is printed and written, run-report.ts.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, machine, startChild, stopChildren, writeSection } from './common.js';
import { drive, FEEDS, type Feed, kapacitorPieces } from './drive.js';
import { compareReport, compareTable, GO_AGENT, type Row, report, table, targetLines } from './run-report.js';
import { BENCH_FUNCTIONS, type BenchFunction, buildWorkload, expectedOutputs, initFrame } from './workload.js';

/** A sidecar build served for the run: `serve --socket-dir dir` of its cli.js. */
function startSidecar(what: string, cli: string, dir: string, nodeArgs: string[], serveArgs: string[]): Promise<ChildProcess> {
  const args = [...nodeArgs, cli, 'serve', '--socket-dir', dir, '--functions', BENCH_FUNCTIONS.map((f) => f.name).join(','), ...serveArgs];
  return startChild(what, process.execPath, args, (l) => l.includes('"message":"ready"'), nodeArgs.length ? 'inherit' : 'ignore');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      points: { type: 'string', default: '200000' },
      reps: { type: 'string', default: '11' },
      groups: { type: 'string', default: '1,10000' },
      feed: { type: 'string', default: FEEDS.join(',') },
      out: { type: 'string', default: fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)) },
      'sidecar-node-arg': { type: 'string', multiple: true, default: [] },
      'sidecar-arg': { type: 'string', multiple: true, default: [] },
      'compare-cli': { type: 'string' },
      'compare-label': { type: 'string', default: 'baseline' },
      rounds: { type: 'string', default: '3' },
      functions: { type: 'string', default: BENCH_FUNCTIONS.map((f) => f.name).join(',') },
    },
  });
  const points = Number(values.points);
  const reps = Number(values.reps);
  const groupCounts = String(values.groups).split(',').map(Number);
  if (!Number.isSafeInteger(points) || points <= 0) throw new Error(`--points ${values.points} is not a positive integer`);
  if (!Number.isSafeInteger(reps) || reps <= 0) throw new Error(`--reps ${values.reps} is not a positive integer`);
  const rounds = Number(values.rounds);
  if (!Number.isSafeInteger(rounds) || rounds <= 0 || rounds > reps) throw new Error(`--rounds ${values.rounds} is not a positive integer of at most --reps`);
  if (groupCounts.some((g) => !Number.isSafeInteger(g) || g <= 0)) throw new Error(`--groups ${values.groups} is not a list of positive integers`);
  const feeds = String(values.feed).split(',') as Feed[];
  if (feeds.some((f) => !FEEDS.includes(f))) throw new Error(`--feed ${values.feed}: each must be one of ${FEEDS.join(', ')}`);
  const names = String(values.functions).split(',');
  const unknown = names.filter((n) => !BENCH_FUNCTIONS.some((f) => f.name === n));
  if (unknown.length) throw new Error(`--functions ${values.functions}: ${unknown.join(', ')} not among ${BENCH_FUNCTIONS.map((f) => f.name).join(', ')}`);
  // In the order named: a run can put any function first or last.
  const benched = names.map((n) => BENCH_FUNCTIONS.find((f) => f.name === n) as BenchFunction);
  const compareCli = values['compare-cli'] === undefined ? null : path.resolve(values['compare-cli']);
  const label = String(values['compare-label']);
  const loadavg = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
  const goAgent = execFileSync('bash', [fileURLToPath(new URL('../../scripts/bench/build-go-agent.sh', import.meta.url))], {
    encoding: 'utf8',
  }).trim();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'udf-bench-'));
  const children: ChildProcess[] = [];
  try {
    const echoPath = path.join(dir, 'echo.sock');
    children.push(await startChild('echo server', process.execPath, [fileURLToPath(new URL('./echo.js', import.meta.url)), echoPath], (l) => l === 'ready'));
    const goPath = path.join(dir, 'go-moving-avg.sock');
    children.push(await startChild('Go agent', goAgent, ['-socket', goPath], (l) => l === 'ready'));
    const nodeArgs = values['sidecar-node-arg'] ?? [];
    const serveArgs = values['sidecar-arg'] ?? [];
    // The other build's sockets (and its default state dir, `<socket dir>-state`) live inside the run's directory.
    const baseDir = path.join(dir, 'compare');
    let sidecars: ChildProcess[] = [];
    const startSidecars = async (): Promise<void> => {
      sidecars = [await startSidecar('sidecar', fileURLToPath(new URL('../cli.js', import.meta.url)), dir, nodeArgs, serveArgs)];
      if (compareCli !== null) sidecars.push(await startSidecar(`sidecar (${label})`, compareCli, baseDir, nodeArgs, serveArgs));
      children.push(...sidecars);
    };

    const movingAverage = BENCH_FUNCTIONS.find((f) => f.name === 'movingAverage') as BenchFunction;
    const variants = [
      ...benched.map((fn) => ({
        name: fn.name,
        socket: path.join(dir, `${fn.name}.sock`),
        baseSocket: compareCli === null ? null : path.join(baseDir, `${fn.name}.sock`),
        fn,
        unordered: false,
      })),
      // The Go agent is movingAverage's counterpart: run beside it.
      ...(benched.includes(movingAverage)
        ? [{ name: GO_AGENT, socket: goPath, baseSocket: null, fn: { ...movingAverage, outputs: (n: number) => n }, unordered: true }]
        : []),
    ];
    interface Series {
      echo: number[];
      byFn: Map<string, number[]>;
      byFnBase: Map<string, number[]>;
    }
    const series = new Map<string, Series>();
    const workloads = new Map(groupCounts.map((g) => [g, buildWorkload(points, g)]));
    let runs = 0;
    let done = 0;
    for (let round = 0; round < rounds; round++) {
      await startSidecars();
      // Each round's share of the repetitions; the first rounds take one more when they do not divide evenly.
      const share = Math.floor(reps / rounds) + (round < reps % rounds ? 1 : 0);
      for (const groups of groupCounts) {
        const w = workloads.get(groups) as ReturnType<typeof buildWorkload>;
        const pieces = feeds.includes('kapacitor') ? kapacitorPieces(w.frames) : [];
        for (const feed of feeds) {
          const runEcho = () => drive(echoPath, w, null, points, feed, pieces);
          const runFn = (v: (typeof variants)[number], socket: string) =>
            drive(socket, w, initFrame(v.fn, `bench-${++runs}`), expectedOutputs(v.fn, w), feed, pieces, v.unordered);
          const key = `${groups} ${feed}`;
          let s = series.get(key);
          if (s === undefined) {
            s = { echo: [], byFn: new Map(variants.map((v) => [v.name, []])), byFnBase: new Map(variants.map((v) => [v.name, []])) };
            series.set(key, s);
          }
          const { echo, byFn, byFnBase } = s;
          // Warm-up: lets every process's JIT settle before anything is recorded.
          await runEcho();
          for (const v of variants) {
            await runFn(v, v.socket);
            if (v.baseSocket !== null) await runFn(v, v.baseSocket);
          }
          for (let i = 0; i < share; i++) {
            const r = done + i;
            const e = await runEcho();
            echo.push(e.pointsPerSec);
            const line = [`groups=${groups} ${feed} rep ${r + 1}/${reps} (sidecars' lifetime ${round + 1}/${rounds}): echo ${fmt(e.pointsPerSec)}`];
            for (const v of variants) {
              const own = async () => {
                const m = await runFn(v, v.socket);
                byFn.get(v.name)?.push(m.pointsPerSec);
                line.push(`${v.name} ${fmt(m.pointsPerSec)}`);
              };
              const base = v.baseSocket;
              if (base === null) {
                await own();
                continue;
              }
              const other = async () => {
                const m = await runFn(v, base);
                byFnBase.get(v.name)?.push(m.pointsPerSec);
                line.push(`${v.name} (${label}) ${fmt(m.pointsPerSec)}`);
              };
              // Alternating which build goes first keeps the order out of the paired ratio.
              if (r % 2 === 0) {
                await other();
                await own();
              } else {
                await own();
                await other();
              }
            }
            process.stderr.write(line.join(', ') + ' points/s\n');
          }
        }
      }
      done += share;
      await stopChildren(sidecars);
    }
    const rows: Row[] = [];
    for (const groups of groupCounts) {
      for (const feed of feeds) {
        const { echo, byFn, byFnBase } = series.get(`${groups} ${feed}`) as Series;
        for (const v of variants) {
          rows.push({ fn: v.name, groups, feed, runs: byFn.get(v.name) ?? [], echo, baseline: v.baseSocket === null ? undefined : byFnBase.get(v.name) });
        }
      }
    }

    process.stdout.write(
      `\n${machine()}\n${points.toLocaleString('en-US')} points, ${reps} repetitions over ${rounds} lifetimes of the sidecars, medians\n\n${table(rows)}\n\n${targetLines(rows)}\n`,
    );
    if (compareCli !== null) process.stdout.write(`\nA/B, ${label}: ${compareCli}\n\n${compareTable(rows, label)}\n`);
    if (values.out !== '-') {
      const out = String(values.out);
      await writeSection(out, 'bulk', report(rows, { points, reps, rounds, loadavg }));
      if (compareCli !== null) await writeSection(out, 'compare', compareReport(rows, { points, reps, rounds, loadavg, label, cli: compareCli }));
      process.stdout.write(`\nwrote ${out}\n`);
    }
  } finally {
    // Waits for the exits: the sidecar writes its CPU profile on the way out.
    await stopChildren(children);
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}-state`, { recursive: true, force: true }); // serve's default --state-dir
  }
}

main().catch((err) => {
  // A mistyped flag is one line; anything else is the benchmark's own failure, with its stack.
  const usage = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || /^--\w/.test((err as Error).message);
  process.stderr.write(`bench: ${usage ? (err as Error).message : ((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
