/**
 * Checks for a state read back from a snapshot, composed the way the state is written (see StateSpec.valid):
 *
 *   valid: is.record({ at: is.nullable(is.time), value: is.numeric })
 *
 * Each check is a type guard, so the type it proves is the state's type: `Checked<typeof check>` names it, and a
 * check that disagrees with `create` fails to compile. A record may carry more keys than it names (they are ignored).
 */
import { isPlainPoint } from './points.js';
import { isTime } from './time.js';

export type Check<T> = (x: unknown) => x is T;
/** The type a check proves. */
export type Checked<C> = C extends Check<infer T> ? T : never;

const typeIs =
  <T>(type: string): Check<T> =>
  (x): x is T =>
    typeof x === type;

const number = typeIs<number>('number');
const bigint = typeIs<bigint>('bigint');
const string = typeIs<string>('string');
const boolean = typeIs<boolean>('boolean');

export const is = {
  number,
  bigint,
  string,
  boolean,
  /** A numeric field's value as numericField reads it. */
  numeric: (x: unknown): x is number | bigint => number(x) || bigint(x),
  /** Any field's value as fieldValue reads it. */
  fieldValue: (x: unknown): x is number | bigint | string | boolean => number(x) || bigint(x) || string(x) || boolean(x),
  time: isTime,
  /** A point as a state holds it (the agent copied it out of its frame, and a snapshot reads it back whole). */
  point: isPlainPoint,
  nullable:
    <T>(check: Check<T>): Check<T | null> =>
    (x): x is T | null =>
      x === null || check(x),
  /** An array of `check`s, of exactly `length` items when given. */
  arrayOf:
    <T>(check: Check<T>, length?: number): Check<T[]> =>
    (x): x is T[] =>
      Array.isArray(x) && (length === undefined || x.length === length) && x.every(check),
  /** Either of two shapes. */
  either:
    <A, B>(a: Check<A>, b: Check<B>): Check<A | B> =>
    (x): x is A | B =>
      a(x) || b(x),
  record:
    <R extends Record<string, Check<unknown>>>(fields: R): Check<{ [K in keyof R]: Checked<R[K]> }> =>
    (x): x is { [K in keyof R]: Checked<R[K]> } => {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
      const o = x as Record<string, unknown>;
      for (const k in fields) if (!fields[k](o[k])) return false;
      return true;
    },
};
