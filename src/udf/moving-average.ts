/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError, SnapshotError } from '../agent/errors.js';
import { defineUdf, type UdfLogic } from '../agent/handler.js';
import { numericField, pointLikeDouble } from '../agent/points.js';
import { nonEmpty, positive } from '../agent/options.js';

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

const isCount = (n: unknown, size: number): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= size;

// Each task uses one kind of state, fixed by its options at Init.
type AverageState = CountState | WindowState;

export const movingAverage = defineUdf({
  name: 'movingAverage',
  doc: 'mean of a numeric field over the last N points (size) or a time window, per group',
  options: {
    field: { type: 'string', required: true, check: nonEmpty, doc: 'int or float field to average' },
    size: { type: 'int', check: positive, max: MAX_SIZE, doc: `average the last N points (at most ${MAX_SIZE}); emits once N points were seen` },
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
        newState: (): CountState => [0, 0, 0],
        point(p, state, emit) {
          const s = state as CountState;
          const v = numericField(p, field);
          if (v === undefined) return;
          const count = s[COUNT];
          if (count < size) {
            s.push(v);
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
          // This build's [sum, next, count, values…] (earlier builds kept `size` values from the start), or an earlier
          // build's {ring, next, sum}.
          let values: unknown[];
          let next: unknown;
          if (Array.isArray(state)) {
            const count = state[COUNT];
            if (!isCount(count, size) || state.length < VALUES + count || state.length > VALUES + size) {
              throw new SnapshotError(`a count window of ${state.length - VALUES} values with count ${String(count)} does not fit size ${size}`);
            }
            values = state.slice(VALUES, VALUES + count);
            next = state[NEXT];
          } else {
            const r = state as Partial<RingState> | null;
            if (r === null || typeof r !== 'object' || !Array.isArray(r.ring) || !isCount(r.ring.length, size)) {
              throw new SnapshotError(`state is not a count window of at most ${size} values`);
            }
            values = r.ring;
            next = r.next;
          }
          if (!values.every((v) => typeof v === 'number')) throw new SnapshotError('a count window holds a value that is not a number');
          const full = values.length === size;
          if (!Number.isInteger(next) || (next as number) < 0 || (next as number) >= size || (!full && next !== 0)) {
            throw new SnapshotError(`a count window's next position ${String(next)} does not fit its ${values.length} of ${size} values`);
          }
          let sum = 0;
          for (const v of values as number[]) sum += v;
          return [sum, next as number, values.length, ...(values as number[])];
        },
        stateBytes: (state) => 16 + 8 * (state as CountState).length,
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
      restored(state: unknown): WindowState {
        const w = state as Partial<WindowState> | null;
        if (
          w === null ||
          typeof w !== 'object' ||
          !Array.isArray(w.times) ||
          !Array.isArray(w.values) ||
          w.times.length !== w.values.length ||
          !w.times.every((t) => typeof t === 'bigint') ||
          !w.values.every((v) => typeof v === 'number')
        ) {
          throw new SnapshotError('state is not a time window (times and values of one length)');
        }
        return { times: w.times, values: w.values, sum: w.values.reduce((a, b) => a + b, 0) };
      },
      // A bigint and a number per point.
      stateBytes: (state) => 64 + 48 * (state as WindowState).times.length,
    };
  },
});
