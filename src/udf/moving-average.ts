/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { numericField, pointLikeDouble, timeOf } from '../agent/points.js';
import { type Checked, is } from '../agent/shape.js';
import type { Duration } from '../duration.js';
import { countAverageFromVersion1, timeAverageFromVersion1 } from './version-1.js';

/** The largest `size`: a full window is 8 bytes a point, per group (800 KB at this size). */
export const MAX_SIZE = 100_000;

export const movingAverage = defineUdf({
  name: 'movingAverage',
  doc: 'mean of a numeric field over the last N points (size) or a time window, per group',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'int or float field to average' }),
    size: option.int({ check: positive, max: BigInt(MAX_SIZE), doc: `average the last N points (at most ${MAX_SIZE}); emits once N points were seen` }),
    window: option.duration({ check: positive, doc: 'average the points with time in (t - window, t]' }),
    as: option.string({ default: 'movingAverage', check: nonEmpty, doc: 'name of the output float field' }),
  },
  create({ field, size, window, as }) {
    if ((size === undefined) === (window === undefined)) throw new OptionError(size === undefined ? 'size' : 'window', 'give exactly one of size or window');
    return size !== undefined ? countAverage(field, as, Number(size)) : timeAverage(field, as, window as Duration);
  },
});

/**
 * The last `size` values as one array of numbers: [sum, next, count, v0 … v(count-1)], growing with its content up to
 * `size` values (a group that sees few points costs few bytes), then a ring. One array rather than an object holding
 * an array: at thousands of groups each object between a group and its numbers is a cache miss per point.
 */
const [SUM, NEXT, COUNT, VALUES] = [0, 1, 2, 3];

function countAverage(field: string, as: string, size: number) {
  const sumOf = (s: number[]) => {
    let sum = 0;
    for (let i = VALUES; i < s.length; i++) sum += s[i];
    return sum;
  };
  return handler({
    state: {
      version: 2,
      create: (): number[] => [0, 0, 0],
      valid: (s: unknown): s is number[] =>
        is.arrayOf(is.number)(s) &&
        s[COUNT] === s.length - VALUES &&
        s[COUNT] <= size &&
        (s[NEXT] === 0 || (s[COUNT] === size && Number.isInteger(s[NEXT]) && s[NEXT] > 0 && s[NEXT] < size)),
      migrate: (old) => countAverageFromVersion1(old, size),
      bytes: (s) => 16 + 8 * s.length,
    },
    point(p, s, emit) {
      const v = numericField(p, field);
      if (v === undefined) return;
      const x = Number(v);
      if (s[COUNT] < size) {
        s.push(x);
        s[COUNT]++;
        s[SUM] += x;
      } else {
        const next = s[NEXT];
        const leaving = s[VALUES + next];
        s[VALUES + next] = x;
        s[NEXT] = next + 1 === size ? 0 : next + 1;
        // A running sum drifts with float rounding: it is added again once per lap. A NaN or an infinity leaving the
        // window cannot be subtracted out (NaN − NaN is NaN): it is added again then too.
        s[SUM] = s[NEXT] === 0 || !Number.isFinite(leaving) ? sumOf(s) : s[SUM] + x - leaving;
      }
      if (s[COUNT] === size) emit(pointLikeDouble(p, as, s[SUM] / size));
    },
  });
}

const isWindowState = is.record({ times: is.arrayOf(is.time), values: is.arrayOf(is.number), sum: is.number });

function timeAverage(field: string, as: string, window: Duration) {
  return handler({
    state: {
      version: 2,
      create: (): Checked<typeof isWindowState> => ({ times: [], values: [], sum: 0 }),
      valid: (s: unknown): s is Checked<typeof isWindowState> => isWindowState(s) && s.times.length === s.values.length,
      migrate: timeAverageFromVersion1,
      bytes: (s) => 64 + 48 * s.times.length, // a Time and a number per point
    },
    point(p, s, emit) {
      const v = numericField(p, field);
      if (v === undefined) return;
      const t = timeOf(p);
      s.times.push(t);
      s.values.push(Number(v));
      s.sum += Number(v);
      let drop = 0;
      while (drop < s.times.length && t.since(s.times[drop]) >= window.nanos) drop++;
      if (drop > 0) {
        s.times.splice(0, drop);
        s.values.splice(0, drop);
        s.sum = s.values.reduce((a, b) => a + b, 0);
      }
      emit(pointLikeDouble(p, as, s.sum / s.values.length));
    },
  });
}
