/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, type UdfLogic } from '../agent/handler.js';
import { numericField, pointLikeDouble } from '../agent/points.js';
import { nonEmpty, positive } from '../agent/options.js';

/**
 * The last `size` values as one array of numbers: [sum, next, count, v0 … v(size-1)]. One array rather than an object
 * holding an array: at thousands of groups each object between a group and its numbers is a cache miss per point.
 */
type CountState = number[];
const SUM = 0;
const NEXT = 1;
const COUNT = 2;
const VALUES = 3;

/** The state an earlier build kept (restored from its snapshots). */
interface RingState {
  ring: number[];
  next: number;
  sum: number;
}

interface WindowState {
  times: bigint[];
  values: number[];
  sum: number;
}

// Each task uses one kind of state, fixed by its options at Init.
type AverageState = CountState | WindowState;

export const movingAverage = defineUdf({
  name: 'movingAverage',
  doc: 'mean of a numeric field over the last N points (size) or a time window, per group',
  options: {
    field: { type: 'string', required: true, check: nonEmpty, doc: 'int or float field to average' },
    size: { type: 'int', check: positive, doc: 'average the last N points; emits once N points were seen' },
    window: { type: 'duration', check: positive, doc: 'average the points with time in (t - window, t]' },
    as: { type: 'string', default: 'movingAverage', check: nonEmpty, doc: 'name of the output float field' },
  },
  create(o): UdfLogic<AverageState> {
    if ((o.size === undefined) === (o.window === undefined)) {
      throw new OptionError(o.size === undefined ? 'size' : 'window', 'give exactly one of size or window');
    }
    const { field, as } = o;
    if (o.size !== undefined) {
      const size = Number(o.size);
      return {
        newState: (): CountState => new Array<number>(VALUES + size).fill(0),
        point(p, state, emit) {
          const s = state as CountState;
          const v = numericField(p, field);
          if (v === undefined) return;
          const count = s[COUNT];
          if (count < size) {
            s[VALUES + count] = v;
            s[COUNT] = count + 1;
            s[SUM] += v;
          } else {
            const next = s[NEXT];
            const leaving = s[VALUES + next];
            s[SUM] += v - leaving;
            s[VALUES + next] = v;
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
        restored(state: unknown): CountState {
          if (Array.isArray(state)) return state as CountState;
          const { ring, next, sum } = state as RingState;
          const s = new Array<number>(VALUES + size).fill(0);
          s[SUM] = sum;
          s[NEXT] = next;
          s[COUNT] = ring.length;
          ring.forEach((v, i) => (s[VALUES + i] = v));
          return s;
        },
      };
    }
    const window = o.window as bigint;
    return {
      newState: (): WindowState => ({ times: [], values: [], sum: 0 }),
      point(p, state, emit) {
        const s = state as WindowState;
        const v = numericField(p, field);
        if (v === undefined) return;
        s.times.push(p.time);
        s.values.push(v);
        s.sum += v;
        const from = p.time - window;
        let drop = 0;
        while (drop < s.times.length && s.times[drop] <= from) drop++;
        if (drop > 0) {
          s.times.splice(0, drop);
          s.values.splice(0, drop);
          s.sum = s.values.reduce((a, b) => a + b, 0);
        }
        emit(pointLikeDouble(p, as, s.sum / s.values.length));
      },
    };
  },
});
