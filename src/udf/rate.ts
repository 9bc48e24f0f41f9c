/**
 * rate: per-unit rate of change of a field, per group. Counters (the default) treat a decrease as a reset — the
 * increase is then the new value itself — or, with `max`, as a wrap past max. Kapacitor's derivative with nonNegative
 * drops the reset point instead; this keeps it.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { difference, numericField, pointLikeDouble, timeOf } from '../agent/points.js';
import { type Checked, is } from '../agent/shape.js';
import { Time } from '../agent/time.js';
import { Duration } from '../duration.js';
import { rateFromVersion1 } from './version-1.js';

/** The group's last point: its time (null before the first) and value. */
const isRateState = is.record({ at: is.nullable(is.time), value: is.numeric });

export const rate = defineUdf({
  name: 'rate',
  doc: 'per-unit rate of change of a field; counter resets and wraps compensated',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'int or float field' }),
    unit: option.duration({ default: Duration.of('1s'), check: positive, doc: 'rate per this duration (default 1s)' }),
    counter: option.bool({ default: true, doc: 'a decrease is a counter reset (false: plain derivative)' }),
    // DOUBLE, not INT: TICKscript checks option types exactly, and one declared type must serve every counter.
    max: option.double({ check: positive, doc: 'counter wraps after this value: write it as a float, .max(4294967295.0)' }),
    as: option.string({ default: 'rate', check: nonEmpty, doc: 'name of the output float field' }),
  },
  create(o) {
    if (o.max !== undefined && !o.counter) throw new OptionError('max', 'applies only to counters; drop counter(false)');
    const { field, as, counter, max } = o;
    const unit = o.unit.nanos;
    const now = new Time(); // each point's time, read into one Time: nothing allocated per point
    return handler({
      state: {
        version: 2,
        create: (): Checked<typeof isRateState> => ({ at: null, value: 0 }),
        valid: isRateState,
        migrate: rateFromVersion1,
      },
      point(p, s, emit) {
        const v = numericField(p, field);
        if (v === undefined) return;
        const t = timeOf(p, now);
        if (s.at !== null) {
          const elapsed = t.since(s.at);
          if (elapsed <= 0) return; // a duplicate or out-of-order point says nothing about the rate
          let increase = difference(v, s.value);
          if (counter && increase < 0) increase = max === undefined ? Number(v) : max - Number(s.value) + Number(v) + 1;
          emit(pointLikeDouble(p, as, (increase * unit) / elapsed));
        }
        s.at = t.copyInto(s.at);
        s.value = v;
      },
    });
  },
});
