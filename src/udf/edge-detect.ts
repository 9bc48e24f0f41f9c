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

/** The watched value of a state: the value itself when one field is watched, an array of values for several. */
type Watched = FieldValue | FieldValue[];

interface EdgeState {
  /**
   * The watched value(s) of the current state, or null before the group's first point. One field (the usual case) is
   * kept as a value, not an array: at thousands of groups, each object between a group and its value is a cache miss.
   */
  current: Watched | null;
  /** When the current state began (ns); kept only when durationAs or minDuration needs it. */
  since: bigint;
  /** A change seen but not yet held for minDuration. */
  candidate: { current: Watched; point: Point } | null;
}

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

    // The watched value(s) of the point being handled. Several fields are read into one array reused for every point:
    // the common path (no debounce) allocates nothing per point.
    const single = fields.length === 1 ? fields[0] : null;
    const scratch: FieldValue[] = new Array<FieldValue>(fields.length);
    const readWatched = (p: Point): Watched | undefined => {
      if (single !== null) return fieldValue(p, single);
      for (let i = 0; i < fields.length; i++) {
        const v = fieldValue(p, fields[i]);
        if (v === undefined) return undefined;
        scratch[i] = v;
      }
      return scratch;
    };
    const same = (a: Watched, b: Watched): boolean =>
      single !== null ? Object.is(a, b) : (a as FieldValue[]).every((v, i) => Object.is(v, (b as FieldValue[])[i]));
    // What a state keeps: the scratch array is copied, a single value is kept as it is.
    const keep = (w: Watched): Watched => (single !== null ? w : (w as FieldValue[]).slice());
    const asList = (w: Watched): FieldValue[] => (single !== null ? [w as FieldValue] : (w as FieldValue[]));
    // When the current state began matters only to durationAs and minDuration; otherwise the time is never read.
    const trackSince = o.durationAs !== undefined || o.minDuration > 0n;

    // The emitted point: the input point unchanged, plus the annotations when asked for.
    const edge = (p: Point, previous: Watched, lasted: bigint): Point => {
      if (previousNames === null && o.durationAs === undefined) return p;
      return withFields(p, annotations(previousNames, asList(previous), o.durationAs, Number(lasted) / unit));
    };

    return {
      newState: (): EdgeState => ({ current: null, since: 0n, candidate: null }),
      point(p, s: EdgeState, emit) {
        const now = readWatched(p);
        if (now === undefined) return;
        if (s.current === null) {
          s.current = keep(now);
          if (trackSince) s.since = p.time;
          if (o.emitFirst) emit(p);
          return;
        }
        if (same(now, s.current)) {
          s.candidate = null; // a flap shorter than minDuration: the old state never ended
          return;
        }
        if (o.minDuration === 0n) {
          // A change counts at once.
          emit(edge(p, s.current, trackSince ? p.time - s.since : 0n));
          s.current = keep(now);
          if (trackSince) s.since = p.time;
          return;
        }
        if (s.candidate === null || !same(now, s.candidate.current)) {
          // Kept past this call: it must hold for minDuration first.
          s.candidate = { current: keep(now), point: keepPoint(p) };
        }
        const change = s.candidate.point;
        if (p.time - change.time < o.minDuration) return;
        emit(edge(change, s.current, change.time - s.since));
        s.current = s.candidate.current;
        s.since = change.time;
        s.candidate = null;
      },
      restored(state: unknown): EdgeState {
        // An earlier build kept the watched values in an array, one field or several: {values, since, candidate}.
        const s = state as EdgeState & { values?: FieldValue[] | null; candidate: { values?: FieldValue[] } | null };
        if (s.current !== undefined) return s;
        const watched = (values: FieldValue[]): Watched => (single !== null ? values[0] : values);
        return {
          current: s.values == null ? null : watched(s.values),
          since: s.since,
          candidate: s.candidate === null ? null : { current: watched(s.candidate.values ?? []), point: (s.candidate as { point: Point }).point },
        };
      },
    };
  },
});
