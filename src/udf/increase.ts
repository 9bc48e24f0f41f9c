/**
 * increase: how much a counter grew, per group, over each `window` (stream) or each batch (batch) — hourly energy from
 * a cumulative meter reading, bytes per day from an interface counter. A decrease is a reset (the counter restarted
 * from zero, so the increase is the new value), or with `max` a wrap past max, the way Prometheus' increase() reads
 * a counter; Kapacitor's difference() and spread() count a reset as a huge negative step.
 *
 * The increase between two points is counted in the period of the later one, so consecutive periods add up to the
 * counter's whole increase: nothing is lost at a boundary, nothing extrapolated (see docs/writing-a-function.md).
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { batchPoint, difference, type Numeric, numericField, pointLikeDouble, timeOf } from '../agent/points.js';
import { type Checked, is } from '../agent/shape.js';
import { Time } from '../agent/time.js';

const isIncreaseState = is.record({
  /** The group's last point: its time (null before the first) and value. */
  at: is.nullable(is.time),
  value: is.numeric,
  /** The increase in the open period so far. */
  sum: is.number,
  /** Stream: the end of the open window. Batch: the last point of the open batch. Null when none is open. */
  open: is.nullable(is.time),
});

export const increase = defineUdf({
  name: 'increase',
  doc: 'total increase of a counter per window (stream) or batch; counter resets and wraps compensated',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'int or float counter field' }),
    window: option.duration({ check: positive, doc: 'stream: emit the increase of each window, aligned to the epoch' }),
    max: option.double({ check: positive, doc: 'counter wraps after this value: write it as a float, .max(4294967295.0)' }),
    as: option.string({ default: 'increase', check: nonEmpty, doc: 'name of the output float field' }),
  },
  create(o, edge) {
    const { field, max, as, window } = o;
    if (edge === 'stream' && window === undefined) throw new OptionError('window', 'is required: the stream increase is per window');
    if (edge === 'batch' && window !== undefined) throw new OptionError('window', 'is for the stream increase: a batch is its own period');
    const grown = (v: Numeric, prev: Numeric) => {
      const d = difference(v, prev);
      return d >= 0 ? d : max === undefined ? Number(v) : max - Number(prev) + Number(v) + 1;
    };
    const now = new Time(); // each point's time, read into one Time: nothing allocated per point
    return handler({
      state: {
        version: 1,
        create: (): Checked<typeof isIncreaseState> => ({ at: null, value: 0, sum: 0, open: null }),
        valid: isIncreaseState,
      },
      point(p, s, emit) {
        const v = numericField(p, field);
        if (v === undefined) return;
        const t = timeOf(p, now);
        if (s.at !== null && t.since(s.at) <= 0) return; // a duplicate or out-of-order point: not part of the counter's path
        if (window !== undefined && s.open !== null && t.since(s.open) >= 0) {
          emit(pointLikeDouble(p, as, s.sum, s.open)); // the window closed: its increase, at its end
          s.open = null;
          s.sum = 0;
        }
        if (s.at !== null) s.sum += grown(v, s.value);
        if (window !== undefined) s.open ??= t.floor(window).plus(window);
        else s.open = t.copyInto(s.open);
        s.at = t.copyInto(s.at);
        s.value = v;
      },
      end(s, emit, batch) {
        if (s.open === null) return; // no new point in this batch
        emit(batchPoint(batch, batch.tmax, { double: { [as]: s.sum } }));
        s.open = null;
        s.sum = 0;
      },
    });
  },
});
