/**
 * What `npm run bench:kapacitor` prints and writes to docs/benchmarks.md (see kapacitor.ts): the table of times,
 * paired ratios and CPU per point, the targets, and what was measured.
 */
import os from 'node:os';
import { machine, median, quantile } from './common.js';
import { KAPACITOR_VERSION } from './kapacitord.js';
import { type Measured, POLL_MS, type Variant } from './kapacitor-run.js';
import { LINES_PER_WRITE, SIZE } from './kapacitor-workload.js';

export interface Row {
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

export function report(rows: Row[], o: { points: number; reps: number; loadavg: string }): string {
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
