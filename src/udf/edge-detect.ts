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
  /** When the current state began (ns). */
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

    const watched = (p: Point): FieldValue[] | null => {
      const out: FieldValue[] = [];
      for (const f of fields) {
        const v = fieldValue(p, f);
        if (v === undefined) return null;
        out.push(v);
      }
      return out;
    };

    // The emitted point: the input point unchanged, plus the annotations when asked for.
    const edge = (p: Point, previous: FieldValue[], lasted: bigint): Point => {
      if (previousNames === null && o.durationAs === undefined) return p;
      return withFields(p, annotations(previousNames, previous, o.durationAs, Number(lasted) / unit));
    };

    return {
      newState: (): EdgeState => ({ values: null, since: 0n, candidate: null }),
      point(p, s: EdgeState, emit) {
        const values = watched(p);
        if (values === null) return;
        if (s.values === null) {
          s.values = values;
          s.since = p.time;
          if (o.emitFirst) emit(p);
          return;
        }
        if (sameValues(values, s.values)) {
          s.candidate = null; // a flap shorter than minDuration: the old state never ended
          return;
        }
        if (s.candidate === null || !sameValues(values, s.candidate.values)) {
          // Kept past this call only when it must hold for minDuration first.
          s.candidate = { values, point: o.minDuration > 0n ? keepPoint(p) : p };
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
