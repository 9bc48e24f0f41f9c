/**
 * edgeDetect: emit a point only when the watched value changes — a state change, for strings (SHOWTIME/TRAINING),
 * ints, floats and bools alike. Per group, unlike the original Python UDF (one state per connection, strings only, the
 * first point never emitted); with annotations and debounce, unlike Kapacitor's built-in changeDetect.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf } from '../agent/handler.js';
import { fieldValue, type Point } from '../agent/messages.js';
import { nonEmpty, nonNegative, positive } from '../agent/options.js';

type Value = number | bigint | string | boolean;

interface EdgeState {
  /** The watched values of the current state, or null before the group's first point. */
  values: Value[] | null;
  /** When the current state began (ns). */
  since: bigint;
  /** A change seen but not yet held for minDuration. */
  candidate: { values: Value[]; point: Point } | null;
}

const sameValues = (a: Value[], b: Value[]): boolean => a.every((v, i) => Object.is(v, b[i]));

function withField(fields: Point, name: string, v: Value): void {
  if (typeof v === 'number') fields.fieldsDouble[name] = v;
  else if (typeof v === 'bigint') fields.fieldsInt[name] = v;
  else if (typeof v === 'string') fields.fieldsString[name] = v;
  else fields.fieldsBool[name] = v;
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

    const watched = (p: Point): Value[] | null => {
      const out: Value[] = [];
      for (const f of fields) {
        const v = fieldValue(p, f);
        if (v === undefined) return null;
        out.push(v);
      }
      return out;
    };

    // The emitted point: the input point unchanged plus the annotations; maps are copied, never shared with the input.
    const edge = (p: Point, previous: Value[] | null, lasted: bigint | null): Point => {
      if (previous === null || (previousNames === null && o.durationAs === undefined)) return p;
      const out: Point = {
        ...p,
        fieldsDouble: { ...p.fieldsDouble },
        fieldsInt: { ...p.fieldsInt },
        fieldsString: { ...p.fieldsString },
        fieldsBool: { ...p.fieldsBool },
      };
      if (previousNames) previousNames.forEach((name, i) => withField(out, name, previous[i]));
      if (o.durationAs !== undefined && lasted !== null) out.fieldsDouble[o.durationAs] = Number(lasted) / unit;
      return out;
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
          s.candidate = { values, point: p };
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
