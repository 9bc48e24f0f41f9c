/**
 * rate: per-unit rate of change of a field, per group. Counters (the default) treat a decrease as a reset — the
 * increase is then the new value itself — or, with `max`, as a wrap past max. Kapacitor's derivative with nonNegative
 * drops the reset point instead; this keeps it.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { difference, type Numeric, numericField, pointLikeDouble, timeOf } from '../agent/points.js';
import { isTime, Time } from '../agent/time.js';
import { Duration } from '../duration.js';

/** The group's last point: its time (null before the first) and value. */
interface RateState {
  at: Time | null;
  value: Numeric;
}

const isNumeric = (v: unknown): v is Numeric => typeof v === 'number' || typeof v === 'bigint';

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
        create: (): RateState => ({ at: null, value: 0 }),
        valid: (s: unknown): s is RateState => {
          const r = s as RateState | null;
          return r !== null && typeof r === 'object' && (r.at === null || isTime(r.at)) && isNumeric(r.value);
        },
        migrate: fromVersion1,
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

/** Version 1 held the time as {primed, timeHi, timeLo} beside the value, or (its first form) as {time: bigint | null}. */
function fromVersion1(old: unknown): unknown {
  const s = old as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object') return null;
  if ('primed' in s) {
    const half = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
    if (typeof s.primed !== 'boolean' || !half(s.timeHi, -(2 ** 31), 2 ** 31 - 1) || !half(s.timeLo, 0, 2 ** 32 - 1)) return null;
    return { at: s.primed ? new Time(s.timeHi as number, s.timeLo as number) : null, value: s.value };
  }
  if (s.time != null && typeof s.time !== 'bigint') return null;
  return { at: s.time == null ? null : Time.of(s.time), value: s.value };
}
