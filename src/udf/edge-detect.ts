/**
 * edgeDetect: emit a point only when the watched value changes — a state change, for strings (SHOWTIME/TRAINING),
 * ints, floats and bools alike — per group, the first point included. Kapacitor's built-in changeDetect has neither
 * annotations (the previous value, how long it lasted) nor a debounce (minDuration).
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import type { Fields, Point } from '../agent/messages.js';
import { nonEmpty, nonNegative, option, positive } from '../agent/options.js';
import { type FieldValue, fieldValue, isPlainPoint, pointBytes, timeOf, withFields } from '../agent/points.js';
import { isTime, Time } from '../agent/time.js';
import { Duration } from '../duration.js';

/**
 * The watched value of a state: the value itself when one field is watched (the usual case: at thousands of groups,
 * each object between a group and its value is a cache miss), an array of values for several.
 */
type Watched = FieldValue | FieldValue[];

interface EdgeState {
  /** The watched value(s) of the current state, or null before the group's first point. */
  current: Watched | null;
  /** When the current state began; kept only when durationAs or minDuration needs it. */
  since: Time | null;
  /** A change seen but not yet held for minDuration. */
  candidate: { current: Watched; point: Point } | null;
}

const isFieldValue = (v: unknown): v is FieldValue => ['number', 'bigint', 'string', 'boolean'].includes(typeof v);

/** The annotation fields of an edge: the previous value(s) under their names, and how long the state lasted. */
function annotations(names: string[] | null, previous: FieldValue[], durationAs: string | undefined, lasted: number): Partial<Fields> {
  const add: Required<Fields> = { double: {}, int: {}, string: {}, bool: {} };
  names?.forEach((name, i) => {
    const v = previous[i];
    const kind = typeof v === 'number' ? 'double' : typeof v === 'bigint' ? 'int' : typeof v === 'string' ? 'string' : 'bool';
    (add[kind] as Record<string, FieldValue>)[name] = v;
  });
  if (durationAs !== undefined) add.double[durationAs] = lasted;
  return add;
}

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
    const { field: fields, durationAs, minDuration } = o;
    if (new Set(fields).size !== fields.length) throw new OptionError('field', `lists a field twice: ${fields.join(', ')}`);
    // One watched field: previousAs names the added field. Several: one added field per watched field, suffixed.
    const names = o.previousAs === undefined ? null : fields.length === 1 ? [o.previousAs] : fields.map((f) => `${o.previousAs}_${f}`);
    // Several fields are read into one array reused for every point: the usual path allocates nothing per point.
    const single = fields.length === 1 ? fields[0] : null;
    const scratch = new Array<FieldValue>(fields.length);
    const read = (p: Point): Watched | undefined => {
      if (single !== null) return fieldValue(p, single);
      for (let i = 0; i < fields.length; i++) if ((scratch[i] = fieldValue(p, fields[i]) as FieldValue) === undefined) return undefined;
      return scratch;
    };
    const same = (a: Watched, b: Watched) => (single !== null ? Object.is(a, b) : (a as FieldValue[]).every((v, i) => Object.is(v, (b as FieldValue[])[i])));
    const keep = (w: Watched): Watched => (single !== null ? w : (w as FieldValue[]).slice());
    const isWatched = (w: unknown): w is Watched =>
      single !== null ? isFieldValue(w) : Array.isArray(w) && w.length === fields.length && w.every(isFieldValue);
    // When the current state began matters only to durationAs and minDuration; otherwise no time is read.
    const trackSince = durationAs !== undefined || minDuration.ns > 0n;
    const edge = (p: Point, previous: Watched, lasted: number): Point =>
      names === null && durationAs === undefined
        ? p
        : withFields(p, annotations(names, single !== null ? [previous as FieldValue] : (previous as FieldValue[]), durationAs, lasted / o.unit.nanos));
    const change = (s: EdgeState, to: Watched, at: Time | null) => {
      s.current = to;
      s.since = at;
      s.candidate = null;
    };
    return handler({
      state: {
        version: 2,
        create: (): EdgeState => ({ current: null, since: null, candidate: null }),
        valid: (s: unknown): s is EdgeState => {
          const e = s as EdgeState | null;
          const c = e?.candidate;
          return (
            e !== null &&
            typeof e === 'object' &&
            (e.current === null || isWatched(e.current)) &&
            (e.since === null || isTime(e.since)) &&
            (c === null || (typeof c === 'object' && isWatched(c.current) && isPlainPoint(c.point)))
          );
        },
        migrate: (old) => fromVersion1(old, single !== null),
        bytes: (s) => 48 + watchedBytes(s.current) + (s.candidate === null ? 0 : pointBytes(s.candidate.point) + watchedBytes(s.candidate.current)),
      },
      // A change waiting out minDuration keeps its point (the agent copies it).
      holdsPoints: minDuration.ns > 0n,
      point(p, s, emit) {
        const now = read(p);
        if (now === undefined) return;
        if (s.current === null) {
          change(s, keep(now), trackSince ? timeOf(p) : null);
          if (o.emitFirst) emit(p);
        } else if (same(now, s.current)) {
          s.candidate = null; // a flap shorter than minDuration: the old state never ended
        } else if (minDuration.ns === 0n) {
          const t = trackSince ? timeOf(p) : null;
          emit(edge(p, s.current, t === null ? 0 : t.since(s.since as Time)));
          change(s, keep(now), t);
        } else {
          if (s.candidate === null || !same(now, s.candidate.current)) s.candidate = { current: keep(now), point: p };
          const at = timeOf(s.candidate.point);
          if (timeOf(p).since(at) < minDuration.nanos) return;
          emit(edge(s.candidate.point, s.current, at.since(s.since as Time)));
          change(s, s.candidate.current, at);
        }
      },
    });
  },
});

/** Several watched values: 16 bytes each, strings by their length; one value costs nothing beyond the state. */
function watchedBytes(w: Watched | null): number {
  if (typeof w === 'string') return 2 * w.length;
  if (!Array.isArray(w)) return 0;
  let bytes = 16 * w.length;
  for (const v of w) if (typeof v === 'string') bytes += 2 * v.length;
  return bytes;
}

/** Version 1 kept `since` as a bigint, and in its first form the watched values in an array (`values`) even for one field. */
function fromVersion1(old: unknown, single: boolean): unknown {
  const s = old as { current?: unknown; values?: unknown; since?: unknown; candidate?: { current?: unknown; values?: unknown; point?: unknown } | null } | null;
  if (s === null || typeof s !== 'object' || typeof s.since !== 'bigint') return null;
  const first = s.current === undefined;
  const watched = (w: unknown) => (first && single && Array.isArray(w) && w.length === 1 ? w[0] : w);
  const c = s.candidate;
  if (c !== null && typeof c !== 'object') return null;
  return {
    current: (first ? s.values : s.current) == null ? null : watched(first ? s.values : s.current),
    since: Time.of(s.since),
    candidate: c == null ? null : { current: watched(first ? c.values : c.current), point: c.point },
  };
}
