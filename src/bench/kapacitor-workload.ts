/**
 * The workload of `npm run bench:kapacitor` (see kapacitor.ts) as line protocol, and what every variant must make of
 * it, computed here from the workload's own arithmetic.
 */

export const SIZE = 10;
export const LINES_PER_WRITE = 5000;

/** How a variant's averages come out: the built-in and the sidecar emit once the window is full, the Go example from
 * the first point (the mean of what it has). */
export type Emits = 'when-full' | 'from-first';

export interface Workload {
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

export function buildWorkload(points: number, groups: number): Workload {
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

export interface Expected {
  outputs: number;
  /** Per host tag: the sum of its averages and the time of its last. */
  groups: Map<string, { sum: number; scale: number; last: bigint }>;
}

export function expected(w: Workload, emits: Emits): Expected {
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
