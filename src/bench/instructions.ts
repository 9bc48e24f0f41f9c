/**
 * `npm run bench:instructions`: instructions per point of each function, counted by valgrind, for this build and,
 * with --compare-dist, another one. Wall-clock A/Bs on a shared machine move a row by several percent from run to run;
 * two counts of the same code agree to about 0.1% (timers still vary a little), so a change of a percent shows in
 * one run. It counts instructions, not time: memory stalls do not show, and `npm run bench` stays
 * what decides.
 *
 *   npm run bench:instructions [-- --compare-dist ../old/dist --groups 1,10000 --points 50000 --extra 8 --out -]
 *
 * For each build and group count: one run serves every function twice (instructions-feed.ts, in process, bulk
 * feeding), and one more run per function serves it `extra` times more; the difference, divided by extra × points,
 * is that function's cost per point, measured while the process serves all of them, as a sidecar does. Node runs with
 * --single-threaded --predictable --predictable-gc-schedule (no concurrent compiler or GC, a fixed heap schedule) and
 * valgrind's cachegrind without its cache simulation. About a minute per run: 16 runs for one build, 32 for an A/B.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { fmt, machine, writeSection } from './common.js';
import { BENCH_FUNCTIONS } from './workload.js';

const run = promisify(execFile);
const NODE_FLAGS = ['--single-threaded', '--predictable', '--predictable-gc-schedule'];
const FEED = fileURLToPath(new URL('./instructions-feed.js', import.meta.url));
const THIS_DIST = fileURLToPath(new URL('..', import.meta.url));

/** Instructions the feed executes with these arguments (valgrind's "I refs"). */
async function count(args: string[]): Promise<bigint> {
  const valgrind = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'];
  const { stderr } = await run('valgrind', [...valgrind, process.execPath, ...NODE_FLAGS, FEED, ...args], { maxBuffer: 1 << 24 });
  const m = /I\s+refs:\s+([\d,]+)/.exec(stderr);
  if (m === null) throw new Error(`valgrind printed no instruction count:\n${stderr}`);
  return BigInt(m[1].replaceAll(',', ''));
}

interface Cell {
  build: string;
  groups: number;
  fn: string;
  perPoint: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'compare-dist': { type: 'string' },
      'compare-label': { type: 'string', default: 'baseline' },
      groups: { type: 'string', default: '1,10000' },
      points: { type: 'string', default: '50000' },
      extra: { type: 'string', default: '8' },
      out: { type: 'string', default: fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)) },
    },
  });
  const points = Number(values.points);
  const extra = Number(values.extra);
  const groupCounts = String(values.groups).split(',').map(Number);
  if (!Number.isSafeInteger(points) || points <= 0) throw new Error(`--points ${values.points} is not a positive integer`);
  if (!Number.isSafeInteger(extra) || extra <= 0) throw new Error(`--extra ${values.extra} is not a positive integer`);
  if (groupCounts.some((g) => !Number.isSafeInteger(g) || g <= 0)) throw new Error(`--groups ${values.groups} is not a list of positive integers`);
  try {
    await run('valgrind', ['--version']);
  } catch {
    throw new Error('valgrind: not found; install it (Debian: apt-get install valgrind)');
  }
  const builds: Array<[string, string]> = [['this build', THIS_DIST]];
  if (values['compare-dist'] !== undefined) builds.push([String(values['compare-label']), values['compare-dist']]);
  const names = BENCH_FUNCTIONS.map((f) => f.name);
  const all = names.join(',');

  const cells: Cell[] = [];
  for (const groups of groupCounts) {
    for (const [build, dist] of builds) {
      const common = [dist, all, String(groups), String(points), '2'];
      const base = await count(common);
      for (const fn of names) {
        const more = await count([...common, `${fn}:${extra}`]);
        const perPoint = Number(more - base) / (extra * points);
        cells.push({ build, groups, fn, perPoint });
        process.stdout.write(`${build}, ${fn}, ${groups} group(s): ${fmt(perPoint)} instructions a point\n`);
      }
    }
  }

  const compare = builds.length > 1 ? builds[1][0] : null;
  const header =
    compare === null
      ? '| function | groups | instructions a point |\n|---|---:|---:|'
      : `| function | groups | this build | ${compare} | ratio |\n|---|---:|---:|---:|---:|`;
  const rows = names.flatMap((fn) =>
    groupCounts.map((groups) => {
      const at = (build: string) => (cells.find((c) => c.build === build && c.fn === fn && c.groups === groups) as Cell).perPoint;
      const mine = at('this build');
      if (compare === null) return `| ${fn} | ${fmt(groups)} | ${fmt(mine)} |`;
      const theirs = at(compare);
      return `| ${fn} | ${fmt(groups)} | ${fmt(mine)} | ${fmt(theirs)} | ${(mine / theirs).toFixed(3)} |`;
    }),
  );
  const body = [
    '## Instructions a point',
    '',
    `Generated by \`npm run bench:instructions\` on ${new Date().toISOString()}. Machine: ${machine()}. ` +
      `${fmt(points)} points, ${extra} extra runs per function; node ${NODE_FLAGS.join(' ')} under valgrind's cachegrind.` +
      (compare === null ? '' : ` Ratio: this build ÷ ${compare} (${values['compare-dist']}); above 1 costs more.`),
    '',
    header,
    ...rows,
  ].join('\n');
  process.stdout.write(`\n${body}\n`);
  if (values.out !== '-') {
    await writeSection(String(values.out), 'instructions', body);
    process.stdout.write(`\nwrote ${values.out}\n`);
  }
}

main().catch((err) => {
  const usage = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || /^(--\w|valgrind:)/.test((err as Error).message);
  process.stderr.write(`bench: ${usage ? (err as Error).message : ((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
