/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { numericField, pointLikeDouble, timeOf } from '../agent/points.js';
import { isTime, Time } from '../agent/time.js';

/** The largest `size`: a full window is 8 bytes a point, per group (800 KB at this size). */
export const MAX_SIZE = 100_000;

/**
 * The last `size` values as one array of numbers: [sum, next, count, v0 … v(count-1)], growing with its content up to
 * `size` values (a group that sees few points costs few bytes), then a ring. One array rather than an object holding
 * an array: at thousands of groups each object between a group and its numbers is a cache miss per point.
 */
type CountState = number[];
const SUM = 0;
const NEXT = 1;
const COUNT = 2;
const VALUES = 3;

interface WindowState {
  times: Time[];
  values: number[];
  sum: number;
}

const numbers = (a: unknown): a is number[] => Array.isArray(a) && a.every((v) => typeof v === 'number');
const isIndex = (n: unknown, below: number): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < below;

export const movingAverage = defineUdf({
  name: 'movingAverage',
  doc: 'mean of a numeric field over the last N points (size) or a time window, per group',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'int or float field to average' }),
    size: option.int({ check: positive, max: BigInt(MAX_SIZE), doc: `average the last N points (at most ${MAX_SIZE}); emits once N points were seen` }),
    window: option.duration({ check: positive, doc: 'average the points with time in (t - window, t]' }),
    as: option.string({ default: 'movingAverage', check: nonEmpty, doc: 'name of the output float field' }),
  },
  create(o) {
    if ((o.size === undefined) === (o.window === undefined)) {
      throw new OptionError(o.size === undefined ? 'size' : 'window', 'give exactly one of size or window');
    }
    const { field, as } = o;
    if (o.size !== undefined) {
      const size = Number(o.size);
      return handler({
        state: {
          version: 2,
          create: (): CountState => [0, 0, 0],
          valid: (s: unknown): s is CountState =>
            numbers(s) &&
            s.length >= VALUES &&
            s[COUNT] === s.length - VALUES &&
            s[COUNT] <= size &&
            (s[NEXT] === 0 || (s[COUNT] === size && isIndex(s[NEXT], size))),
          migrate: (old) => countFromVersion1(old, size),
          bytes: (s) => 16 + 8 * s.length,
        },
        point(p, s, emit) {
          const v = numericField(p, field);
          if (v === undefined) return;
          const x = Number(v);
          const count = s[COUNT];
          if (count < size) {
            s.push(x);
            s[COUNT] = count + 1;
            s[SUM] += x;
          } else {
            const next = s[NEXT];
            const leaving = s[VALUES + next];
            s[SUM] += x - leaving;
            s[VALUES + next] = x;
            s[NEXT] = next + 1 === size ? 0 : next + 1;
            // A running sum drifts with float rounding; re-add the window once per lap to keep it exact-ish. A NaN or
            // an infinity leaving the window cannot be subtracted out (NaN − NaN is NaN): re-add at once then too.
            if (s[NEXT] === 0 || leaving - leaving !== 0) {
              let sum = 0;
              for (let i = VALUES; i < VALUES + size; i++) sum += s[i];
              s[SUM] = sum;
            }
          }
          if (s[COUNT] === size) emit(pointLikeDouble(p, as, s[SUM] / size));
        },
      });
    }
    const window = o.window as NonNullable<typeof o.window>;
    return handler({
      state: {
        version: 2,
        create: (): WindowState => ({ times: [], values: [], sum: 0 }),
        valid: (s: unknown): s is WindowState => {
          const w = s as WindowState | null;
          return (
            w !== null &&
            Array.isArray(w.times) &&
            w.times.every(isTime) &&
            numbers(w.values) &&
            w.times.length === w.values.length &&
            typeof w.sum === 'number'
          );
        },
        migrate: (old) => {
          // Version 1 kept the times as bigints.
          const w = old as { times?: unknown; values?: unknown } | null;
          if (!Array.isArray(w?.times) || !w.times.every((t) => typeof t === 'bigint') || !numbers(w.values)) return null;
          return { times: w.times.map(Time.of), values: w.values, sum: w.values.reduce((a, b) => a + b, 0) };
        },
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
  },
});

/** Version 1: this shape (at times with `size` values kept from the start), or in its first form {ring, next, sum}. */
function countFromVersion1(old: unknown, size: number): unknown {
  let values: unknown;
  let next: unknown;
  if (Array.isArray(old)) {
    const count = old[COUNT];
    if (!Number.isInteger(count) || count < 0 || old.length < VALUES + count || old.length > VALUES + size) return null;
    values = old.slice(VALUES, VALUES + count);
    next = old[NEXT];
  } else {
    const r = old as { ring?: unknown; next?: unknown } | null;
    values = r?.ring;
    next = r?.next;
  }
  // The sum is recomputed: version 1 did not keep it exact.
  return numbers(values) ? [values.reduce((a, b) => a + b, 0), next, values.length, ...values] : null;
}
