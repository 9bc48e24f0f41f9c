/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, type UdfLogic } from '../agent/handler.js';
import { numericField, pointLikeDouble } from '../agent/points.js';
import { nonEmpty, positive } from '../agent/options.js';

interface CountState {
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
        newState: (): CountState => ({ ring: [], next: 0, sum: 0 }),
        point(p, state, emit) {
          const s = state as CountState;
          const v = numericField(p, field);
          if (v === undefined) return;
          if (s.ring.length < size) {
            s.ring.push(v);
            s.sum += v;
          } else {
            s.sum += v - s.ring[s.next];
            s.ring[s.next] = v;
            s.next = (s.next + 1) % size;
            // A running sum drifts with float rounding; re-add the window once per lap to keep it exact-ish.
            if (s.next === 0) s.sum = s.ring.reduce((a, b) => a + b, 0);
          }
          if (s.ring.length === size) emit(pointLikeDouble(p, as, s.sum / size));
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
