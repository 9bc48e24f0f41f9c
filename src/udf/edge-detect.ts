/**
 * edgeDetect: emit a point only when the watched value changes — a state change, for strings (SHOWTIME/TRAINING),
 * ints, floats and bools alike — per group, the first point included. Kapacitor's built-in changeDetect has neither
 * annotations (the previous value, how long it lasted) nor a debounce (minDuration).
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import type { Point } from '../agent/messages.js';
import { nonEmpty, nonNegative, option, positive } from '../agent/options.js';
import { type FieldValue, fieldValue, fieldValues, fieldsOf, pointBytes, timeOf, withFields } from '../agent/points.js';
import { type Check, type Checked, is } from '../agent/shape.js';
import type { Time } from '../agent/time.js';
import { Duration } from '../duration.js';
import { edgeDetectFromVersion1 } from './version-1.js';

/**
 * The watched value of a state: the value itself when one field is watched (the usual case: at thousands of groups,
 * each object between a group and its value is a cache miss), an array of values for several.
 */
type Watched = FieldValue | FieldValue[];
/** `since`: when the current state began, kept only when durationAs or minDuration needs it. */
const edgeState = (watched: Check<Watched>) =>
  is.record({
    current: is.nullable(watched), // null before the group's first point
    since: is.nullable(is.time),
    candidate: is.nullable(is.record({ current: watched, point: is.point })), // a change not yet held for minDuration
  });
type EdgeState = Checked<ReturnType<typeof edgeState>>;

/** Several watched values: 16 bytes each, strings by their length; one value costs nothing beyond the state. */
const watchedBytes = (w: Watched | null): number =>
  typeof w === 'string' ? 2 * w.length : Array.isArray(w) ? w.reduce<number>((b, v) => b + 16 + (typeof v === 'string' ? 2 * v.length : 0), 0) : 0;

const same = (a: Watched, b: Watched) => (Array.isArray(a) ? a.every((v, i) => Object.is(v, (b as FieldValue[])[i])) : Object.is(a, b));

export const edgeDetect = defineUdf({
  name: 'edgeDetect',
  doc: 'emits a point only when the watched field(s) change value (state changes), per group',
  options: {
    field: option.string({ required: true, repeated: true, check: nonEmpty, doc: 'field to watch; repeat for several' }),
    emitFirst: option.bool({ default: true, doc: 'emit the first point seen for a group' }),
    previousAs: option.string({ check: nonEmpty, doc: 'add a field holding the previous value' }),
    durationAs: option.string({ check: nonEmpty, doc: 'add a float field: how long the previous state lasted, in units' }),
    unit: option.duration({ default: Duration.of('1s'), check: positive, doc: 'unit of durationAs (default 1s)' }),
    minDuration: option.duration({ default: new Duration(0n), check: nonNegative, doc: 'a new state must hold this long to count' }),
  },
  create(o) {
    const { field: fields, previousAs, durationAs, minDuration } = o;
    if (new Set(fields).size !== fields.length) throw new OptionError('field', `lists a field twice: ${fields.join(', ')}`);
    // When the current state began matters only to durationAs and minDuration; otherwise no time is read.
    const trackSince = durationAs !== undefined || minDuration.ns > 0n;
    // One watched field: previousAs names the added field. Several: one added field per watched field, suffixed.
    const names = previousAs === undefined ? [] : fields.length === 1 ? [previousAs] : fields.map((f) => `${previousAs}_${f}`);
    const edge = (p: Point, previous: Watched, lasted: number): Point => {
      if (names.length === 0 && durationAs === undefined) return p;
      const add: Record<string, FieldValue> = {};
      names.forEach((name, i) => (add[name] = Array.isArray(previous) ? previous[i] : previous));
      if (durationAs !== undefined) add[durationAs] = lasted / o.unit.nanos;
      return withFields(p, fieldsOf(add));
    };
    const change = (s: EdgeState, to: Watched, at: Time | null) => {
      s.current = to;
      s.since = at;
      s.candidate = null;
    };
    return handler({
      state: {
        version: 2,
        create: (): EdgeState => ({ current: null, since: null, candidate: null }),
        valid: edgeState(fields.length === 1 ? is.fieldValue : is.arrayOf(is.fieldValue, fields.length)),
        migrate: (old) => edgeDetectFromVersion1(old, fields.length === 1),
        bytes: (s) => 48 + watchedBytes(s.current) + (s.candidate === null ? 0 : pointBytes(s.candidate.point) + watchedBytes(s.candidate.current)),
      },
      // A change waiting out minDuration keeps its point (the agent copies it).
      holdsPoints: minDuration.ns > 0n,
      point(p, s, emit) {
        const now = fields.length === 1 ? fieldValue(p, fields[0]) : fieldValues(p, fields);
        if (now === undefined) return;
        if (s.current === null) {
          change(s, now, trackSince ? timeOf(p) : null);
          if (o.emitFirst) emit(p);
        } else if (same(now, s.current)) {
          s.candidate = null; // a flap shorter than minDuration: the old state never ended
        } else if (minDuration.ns === 0n) {
          const t = trackSince ? timeOf(p) : null;
          emit(edge(p, s.current, t === null ? 0 : t.since(s.since as Time)));
          change(s, now, t);
        } else {
          if (s.candidate === null || !same(now, s.candidate.current)) s.candidate = { current: now, point: p };
          const at = timeOf(s.candidate.point);
          if (timeOf(p).since(at) < minDuration.nanos) return;
          emit(edge(s.candidate.point, s.current, at.since(s.since as Time)));
          change(s, s.candidate.current, at);
        }
      },
    });
  },
});
