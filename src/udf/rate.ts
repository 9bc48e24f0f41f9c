/**
 * rate: per-unit rate of change of a field, per group. Counters (the default) treat a decrease as a reset — the
 * increase is then the new value itself — or, with `max`, as a wrap past max. Kapacitor's derivative with nonNegative
 * drops the reset point instead; this keeps it.
 */
import { OptionError, SnapshotError } from '../agent/errors.js';
import { defineUdf } from '../agent/handler.js';
import { nonEmpty, positive } from '../agent/options.js';
import { exactNumericField, holdTime, nanosSince, pointLikeDouble, splitInt64 } from '../agent/points.js';

interface RateState {
  /** False until the group's first point. */
  primed: boolean;
  /** The last point's time, as halves (holdTime): no BigInt per point. */
  timeHi: number;
  timeLo: number;
  value: number | bigint;
}

/** v - prev when one is a bigint (beyond 2^53): exact for two integers, as floats otherwise (a field that changed type). */
function exactDelta(v: number | bigint, prev: number | bigint): number {
  const integral = (x: number | bigint) => typeof x === 'bigint' || Number.isInteger(x);
  return integral(v) && integral(prev) ? Number(BigInt(v) - BigInt(prev)) : Number(v) - Number(prev);
}

export const rate = defineUdf({
  name: 'rate',
  doc: 'per-unit rate of change of a field; counter resets and wraps compensated',
  options: {
    field: { type: 'string', required: true, check: nonEmpty, doc: 'int or float field' },
    unit: { type: 'duration', default: 1_000_000_000n, check: positive, doc: 'rate per this duration (default 1s)' },
    counter: { type: 'bool', default: true, doc: 'a decrease is a counter reset (false: plain derivative)' },
    // DOUBLE, not INT: TICKscript checks option types exactly, and one declared type must serve every counter.
    max: { type: 'double', check: positive, doc: 'counter wraps after this value: write it as a float, .max(4294967295.0)' },
    as: { type: 'string', default: 'rate', check: nonEmpty, doc: 'name of the output float field' },
  },
  create(o) {
    if (o.max !== undefined && !o.counter) throw new OptionError('max', 'applies only to counters; drop counter(false)');
    const { field, as, counter, max } = o;
    const unit = Number(o.unit);
    return {
      newState: (): RateState => ({ primed: false, timeHi: 0, timeLo: 0, value: 0 }),
      point(p, s: RateState, emit) {
        // An int within ±2^53 comes as a number (every counter for years), beyond as a bigint, so increases stay
        // exact either way while the usual state holds no BigInt.
        const v = exactNumericField(p, field);
        if (v === undefined) return;
        if (!s.primed) {
          s.primed = true;
          holdTime(s, p);
          s.value = v;
          return;
        }
        const elapsed = nanosSince(s, p);
        if (elapsed <= 0) return; // a duplicate or out-of-order point says nothing about the rate
        const prev = s.value;
        const delta = typeof v === 'number' && typeof prev === 'number' ? v - prev : exactDelta(v, prev);
        let increase = delta;
        if (counter && delta < 0) increase = max === undefined ? Number(v) : max - Number(prev) + Number(v) + 1;
        holdTime(s, p);
        s.value = v;
        emit(pointLikeDouble(p, as, (increase * unit) / elapsed));
      },
      restored(state: unknown): RateState {
        // This build's state, or an earlier build's {time: bigint | null, value}.
        const s = state as (RateState & { time?: bigint | null }) | null;
        const numeric = (v: unknown) => typeof v === 'bigint' || typeof v === 'number';
        if (s === null || typeof s !== 'object' || !numeric(s.value)) throw new SnapshotError('state is not a rate state (no numeric value)');
        if (s.primed !== undefined) {
          const half = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
          if (typeof s.primed !== 'boolean' || !half(s.timeHi, -(2 ** 31), 2 ** 31 - 1) || !half(s.timeLo, 0, 2 ** 32 - 1)) {
            throw new SnapshotError('state is not a rate state (primed, timeHi, timeLo)');
          }
          return { primed: s.primed, timeHi: s.timeHi, timeLo: s.timeLo, value: s.value };
        }
        if (s.time != null && typeof s.time !== 'bigint') throw new SnapshotError('state is not a rate state (time)');
        const held = { primed: s.time != null, timeHi: 0, timeLo: 0, value: s.value };
        if (s.time != null) splitInt64(s.time, held);
        return held;
      },
    };
  },
});
