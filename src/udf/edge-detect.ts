/**
 * edgeDetect: emit a point only when the watched value changes — a state change, for strings (SHOWTIME/TRAINING),
 * ints, floats and bools alike. Per group, unlike the original Python UDF (one state per connection, strings only, the
 * first point never emitted); with annotations and debounce, unlike Kapacitor's built-in changeDetect.
 */
import { OptionError, SnapshotError } from '../agent/errors.js';
import { defineUdf } from '../agent/handler.js';
import type { Fields, Point } from '../agent/messages.js';
import { fieldValue, isPlainPoint, keepPoint, pointBytes, withFields, type FieldValue } from '../agent/points.js';
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

const isFieldValue = (v: unknown): v is FieldValue => ['number', 'bigint', 'string', 'boolean'].includes(typeof v);

/** Several watched values: 16 bytes each, strings by their length (the field count is fixed by the options). */
function watchedBytes(values: FieldValue[]): number {
  let bytes = 16 * values.length;
  for (const v of values) if (typeof v === 'string') bytes += 2 * v.length;
  return bytes;
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
        // This build's {current, since, candidate}, or an earlier build's {values, since, candidate} (the watched values
        // in an array, one field or several).
        const s = state as (EdgeState & { values?: unknown; candidate: { values?: unknown; current?: unknown; point?: unknown } | null }) | null;
        if (s === null || typeof s !== 'object' || typeof s.since !== 'bigint') throw new SnapshotError('state is not an edge state (since)');
        const watched = (w: unknown, earlier: boolean): Watched => {
          if (single !== null && !earlier) {
            if (!isFieldValue(w)) throw new SnapshotError(`a watched value of type ${typeof w} is not a field value`);
            return w;
          }
          if (!Array.isArray(w) || w.length !== fields.length || !w.every(isFieldValue)) {
            throw new SnapshotError(`the watched values are not ${fields.length} field value(s)`);
          }
          return single !== null ? w[0] : w;
        };
        const earlier = s.current === undefined;
        const current = earlier ? s.values : s.current;
        const c = s.candidate;
        if (c !== null && (typeof c !== 'object' || !isPlainPoint(c.point))) throw new SnapshotError('an edge candidate is not {current, point}');
        return {
          current: current == null ? null : watched(current, earlier),
          since: s.since,
          candidate: c === null ? null : { current: watched(earlier ? c.values : c.current, earlier), point: c.point as Point },
        };
      },
      stateBytes(s: EdgeState) {
        const c = s.current;
        let bytes = 48 + (typeof c === 'string' ? 2 * c.length : single === null && c !== null ? watchedBytes(c as FieldValue[]) : 0);
        if (s.candidate !== null) bytes += pointBytes(s.candidate.point) + (single === null ? watchedBytes(s.candidate.current as FieldValue[]) : 0);
        return bytes;
      },
    };
  },
});
