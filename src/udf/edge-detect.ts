/**
 * edgeDetect: emit a point only when the watched value changes — a state change, for strings (SHOWTIME/TRAINING),
 * ints, floats and bools alike. Per group, unlike the original Python UDF (one state per connection, strings only, the
 * first point never emitted); with annotations and debounce, unlike Kapacitor's built-in changeDetect.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf } from '../agent/handler.js';
import type { Fields, Point } from '../agent/messages.js';
import { fieldValue, keepPoint, withFields, type FieldValue } from '../agent/points.js';
import { nonEmpty, nonNegative, positive } from '../agent/options.js';

interface EdgeState {
  /** The watched values of the current state, or null before the group's first point. */
  values: FieldValue[] | null;
  /** When the current state began (ns); kept only when durationAs or minDuration needs it. */
  since: bigint;
  /** A change seen but not yet held for minDuration. */
  candidate: { values: FieldValue[]; point: Point } | null;
}

const sameValues = (a: FieldValue[], b: FieldValue[]): boolean => a.every((v, i) => Object.is(v, b[i]));

/** The annotation fields of an edge: the previous value(s) and how long the previous state lasted. */
function annotations(previousNames: string[] | null, previous: FieldValue[], durationAs: string | undefined, lasted: number) {
  const add: Required<Fields> = { double: {}, int: {}, string: {}, bool: {} };
  previousNames?.forEach((name, i) => {
    const v = previous[i];
    if (typeof v === 'number') add.double[name] = v;
    else if (typeof v === 'bigint') add.int[name] = v;
    else if (typeof v === 'string') add.string[name] = v;
    else add.bool[name] = v;
  });
  if (durationAs !== undefined) add.double[durationAs] = lasted;
  return add;
}

export const edgeDetect = defineUdf({
  name: 'edgeDetect',
  doc: 'emits a point only when the watched field(s) change value (state changes), per group',
  options: {
    field: { type: 'string', required: true, repeated: true, check: nonEmpty, doc: 'field to watch; repeat for several' },
    emitFirst: { type: 'bool', default: true, doc: 'emit the first point seen for a group' },
    previousAs: { type: 'string', check: nonEmpty, doc: 'add a field holding the previous value' },
    durationAs: { type: 'string', check: nonEmpty, doc: 'add a float field: how long the previous state lasted, in units' },
    unit: { type: 'duration', default: 1_000_000_000n, check: positive, doc: 'unit of durationAs (default 1s)' },
    minDuration: { type: 'duration', default: 0n, check: nonNegative, doc: 'a new state must hold this long to count' },
  },
  create(o) {
    const fields = o.field;
    if (new Set(fields).size !== fields.length) throw new OptionError('field', `lists a field twice: ${fields.join(', ')}`);
    // One watched field: previousAs names the added field. Several: one added field per watched field, suffixed.
    const previousNames = o.previousAs === undefined ? null : fields.length === 1 ? [o.previousAs] : fields.map((f) => `${o.previousAs}_${f}`);
    const unit = Number(o.unit);

    // The watched values of the point being handled, read into one array reused for every point: the common path
    // (no debounce) allocates nothing per point, which matters with thousands of groups.
    const current: FieldValue[] = new Array<FieldValue>(fields.length);
    const readWatched = (p: Point): boolean => {
      for (let i = 0; i < fields.length; i++) {
        const v = fieldValue(p, fields[i]);
        if (v === undefined) return false;
        current[i] = v;
      }
      return true;
    };
    // When the current state began matters only to durationAs and minDuration; otherwise the time is never read.
    const trackSince = o.durationAs !== undefined || o.minDuration > 0n;

    // The emitted point: the input point unchanged, plus the annotations when asked for.
    const edge = (p: Point, previous: FieldValue[], lasted: bigint): Point => {
      if (previousNames === null && o.durationAs === undefined) return p;
      return withFields(p, annotations(previousNames, previous, o.durationAs, Number(lasted) / unit));
    };

    return {
      newState: (): EdgeState => ({ values: null, since: 0n, candidate: null }),
      point(p, s: EdgeState, emit) {
        if (!readWatched(p)) return;
        if (s.values === null) {
          s.values = current.slice();
          if (trackSince) s.since = p.time;
          if (o.emitFirst) emit(p);
          return;
        }
        if (sameValues(current, s.values)) {
          s.candidate = null; // a flap shorter than minDuration: the old state never ended
          return;
        }
        if (o.minDuration === 0n) {
          // A change counts at once.
          emit(edge(p, s.values, trackSince ? p.time - s.since : 0n));
          for (let i = 0; i < current.length; i++) s.values[i] = current[i];
          if (trackSince) s.since = p.time;
          return;
        }
        if (s.candidate === null || !sameValues(current, s.candidate.values)) {
          // Kept past this call: it must hold for minDuration first.
          s.candidate = { values: current.slice(), point: keepPoint(p) };
        }
        const change = s.candidate.point;
        if (p.time - change.time < o.minDuration) return;
        emit(edge(change, s.values, change.time - s.since));
        s.values = s.candidate.values;
        s.since = change.time;
        s.candidate = null;
      },
    };
  },
});
