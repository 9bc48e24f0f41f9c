/**
 * Rolling windows of numbers for a group's state: the last `size` values (countWindow) or the values of the points
 * whose time is in (t - window, t] (timeWindow), with their running sum. A window is a state spec's create, valid and
 * bytes plus what a function does with one value:
 *
 *   const w = countWindow(5);
 *   handler({ state: { version: 1, ...w.state }, point(p, s, emit) { w.add(s, x, p); if (w.full(s)) … w.sum(s) … } })
 *
 * Both keep plain arrays, so a state snapshots as it is, and both keep their sum exact the way a float sum can be: a
 * running sum drifts with rounding and cannot take a NaN or an infinity back out (NaN − NaN is NaN), so it is added
 * again then (once per lap of a count window, at every drop from a time window).
 *
 * A count window is one array, [sum, next, count, v0 … v(count-1)]: rather than an object holding an array, because at
 * thousands of groups each object between a group and its numbers is a cache miss per point. It grows with its content
 * up to `size` values (a group that sees few points costs few bytes), then is a ring whose oldest value is at `next`.
 */
import type { Duration } from '../duration.js';
import type { Point } from './messages.js';
import { timeOf } from './points.js';
import { type Checked, is } from './shape.js';

export interface RollingWindow<S> {
  state: { create(): S; valid(s: unknown): s is S; bytes(s: S): number };
  /** Adds value `x` of point `p`, dropping what leaves the window. */
  add(s: S, x: number, p: Point): void;
  /** Whether the window holds all it spans: `size` values, or (a time window) always. */
  full(s: S): boolean;
  sum(s: S): number;
  count(s: S): number;
}

/** Where a count window keeps its sum, the ring's oldest value (once full), its count, and its first value. */
export const [SUM, NEXT, COUNT, VALUES] = [0, 1, 2, 3];

const sumFrom = (values: number[], start: number) => {
  let sum = 0;
  for (let i = start; i < values.length; i++) sum += values[i];
  return sum;
};

export function countWindow(size: number): RollingWindow<number[]> {
  return {
    state: {
      create: () => [0, 0, 0],
      valid: (s): s is number[] =>
        is.arrayOf(is.number)(s) &&
        s[COUNT] === s.length - VALUES &&
        s[COUNT] <= size &&
        (s[NEXT] === 0 || (s[COUNT] === size && Number.isInteger(s[NEXT]) && s[NEXT] > 0 && s[NEXT] < size)),
      bytes: (s) => 16 + 8 * s.length,
    },
    add(s, x) {
      if (s[COUNT] < size) {
        s.push(x);
        s[COUNT]++;
        s[SUM] += x;
        return;
      }
      const next = s[NEXT];
      const leaving = s[VALUES + next];
      s[VALUES + next] = x;
      s[NEXT] = next + 1 === size ? 0 : next + 1;
      s[SUM] = s[NEXT] === 0 || !Number.isFinite(leaving) ? sumFrom(s, VALUES) : s[SUM] + x - leaving;
    },
    full: (s) => s[COUNT] === size,
    sum: (s) => s[SUM],
    count: (s) => s[COUNT],
  };
}

const isTimeWindow = is.record({ times: is.arrayOf(is.time), values: is.arrayOf(is.number), sum: is.number });
type TimeWindowState = Checked<typeof isTimeWindow>;

export function timeWindow(window: Duration): RollingWindow<TimeWindowState> {
  return {
    state: {
      create: () => ({ times: [], values: [], sum: 0 }),
      valid: (s): s is TimeWindowState => isTimeWindow(s) && s.times.length === s.values.length,
      bytes: (s) => 64 + 48 * s.times.length, // a Time and a number per point
    },
    add(s, x, p) {
      const t = timeOf(p);
      s.times.push(t);
      s.values.push(x);
      s.sum += x;
      let drop = 0;
      while (drop < s.times.length && t.since(s.times[drop]) >= window.nanos) drop++;
      if (drop === 0) return;
      s.times.splice(0, drop);
      s.values.splice(0, drop);
      s.sum = sumFrom(s.values, 0);
    },
    full: () => true,
    sum: (s) => s.sum,
    count: (s) => s.values.length,
  };
}
