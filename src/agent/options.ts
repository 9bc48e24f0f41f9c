/**
 * One option schema per function: it produces the InfoResponse's option list (what TICKscript checks `.field('x')`
 * against) and validates Init options into typed values. Kapacitor checks count and type of arguments against the
 * declared types itself, but a UDF must not trust that: replays, other clients and version drift all reach Init.
 *
 * A spec is typed by its `type`: a default, a maximum or a check of another type does not compile. Write specs with
 * the builders, `option.string({ doc, required: true })`, which keep `required`/`default`/`repeated` literal so the
 * parsed options are typed exactly (a value, a value or undefined, an array).
 */
import { Duration } from '../duration.js';
import { OptionError } from './errors.js';
import type { InitOption, OptionValue, ValueType } from './messages.js';

/** What each declared type parses to. */
export interface OptionValues {
  bool: boolean;
  int: bigint;
  double: number;
  string: string;
  duration: Duration;
}

export interface SpecOf<T extends ValueType> {
  type: T;
  doc: string;
  /** May be given more than once (`.field('a').field('b')`); parsed as an array (empty when not given). */
  repeated?: boolean;
  required?: boolean;
  default?: OptionValues[T];
  /**
   * The largest value accepted, for an option that sizes memory (a window of N points): documented in the option's
   * doc and refused at Init above it.
   */
  max?: OptionValues[T];
  /** Extra range check; returns a complaint, or undefined when the value is fine. */
  check?: (value: OptionValues[T]) => string | undefined;
}

export type OptionSpec = { [T in ValueType]: SpecOf<T> }[ValueType];
export type OptionSchema = Record<string, OptionSpec>;

type Given<T extends ValueType> = Omit<SpecOf<T>, 'type'>;
const spec =
  <T extends ValueType>(type: T) =>
  <const G extends Given<T>>(given: G): G & { type: T } => ({ ...given, type });

/** Option spec builders, one per declared type. */
export const option = {
  bool: spec('bool'),
  int: spec('int'),
  double: spec('double'),
  string: spec('string'),
  duration: spec('duration'),
};

type Value<S extends OptionSpec> = OptionValues[S['type']];

export type ParsedOptions<S extends OptionSchema> = {
  [K in keyof S]: S[K] extends { repeated: true }
    ? Value<S[K]>[]
    : S[K] extends { required: true } | { default: OptionValues[ValueType] }
      ? Value<S[K]>
      : Value<S[K]> | undefined;
};

export function infoOptions(schema: OptionSchema): Record<string, ValueType[]> {
  const out: Record<string, ValueType[]> = {};
  for (const [name, spec] of Object.entries(schema)) out[name] = [spec.type];
  return out;
}

function describe(v: OptionValue): string {
  return v.type === 'string' ? `${v.type} '${v.value}'` : `${v.type} ${String(v.value)}`;
}

/** An Init value as its declared type parses it; compared as its number for `max`. */
function parsed(v: OptionValue): { value: OptionValues[ValueType]; magnitude: number | bigint | null } {
  if (v.type === 'duration') return { value: new Duration(v.value), magnitude: v.value };
  return { value: v.value, magnitude: v.type === 'int' || v.type === 'double' ? v.value : null };
}

const magnitudeOf = (max: OptionValues[ValueType]): number | bigint | null =>
  max instanceof Duration ? max.ns : typeof max === 'number' || typeof max === 'bigint' ? max : null;

/** Typed options from an InitRequest; throws OptionError naming the first bad option. */
export function parseOptions<S extends OptionSchema>(schema: S, given: InitOption[]): ParsedOptions<S> {
  const out: Record<string, unknown> = {};
  for (const opt of given) {
    const spec: OptionSpec | undefined = Object.hasOwn(schema, opt.name) ? schema[opt.name] : undefined;
    if (!spec) {
      throw new OptionError(opt.name, `unknown option (known: ${Object.keys(schema).join(', ')})`);
    }
    if (opt.values.length !== 1) {
      throw new OptionError(opt.name, `expects exactly 1 ${spec.type} argument, got ${opt.values.length}`);
    }
    const v = opt.values[0];
    if (v.type !== spec.type) throw new OptionError(opt.name, `expects a ${spec.type}, got ${describe(v)}`);
    const { value, magnitude } = parsed(v);
    const max = spec.max === undefined ? null : magnitudeOf(spec.max);
    if (max !== null && magnitude !== null && magnitude > max) {
      throw new OptionError(opt.name, `must be at most ${String(spec.max)}, got ${describe(v)}`);
    }
    // The spec and the value share a type (checked above); the union of specs cannot say so to the compiler.
    const complaint = (spec.check as ((value: OptionValues[ValueType]) => string | undefined) | undefined)?.(value);
    if (complaint) throw new OptionError(opt.name, `${complaint}, got ${describe(v)}`);
    if (spec.repeated) {
      ((out[opt.name] ??= []) as unknown[]).push(value);
    } else if (opt.name in out) {
      throw new OptionError(opt.name, 'given more than once');
    } else {
      out[opt.name] = value;
    }
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (name in out) continue;
    if (spec.required) throw new OptionError(name, 'is required');
    out[name] = spec.repeated ? [] : spec.default;
  }
  return out as ParsedOptions<S>;
}

/** A stable text of parsed options (bigints and durations as ns strings, keys sorted): snapshots carry it to detect redefined tasks. */
export function optionsFingerprint(options: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(options)
      .sort()
      .map((k) => [k, options[k]]),
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

const magnitude = (v: bigint | number | Duration): bigint | number => (v instanceof Duration ? v.ns : v);
export const positive = (v: bigint | number | Duration): string | undefined => (magnitude(v) > 0 ? undefined : 'must be > 0');
export const nonNegative = (v: bigint | number | Duration): string | undefined => (magnitude(v) >= 0 ? undefined : 'must be >= 0');
export const nonEmpty = (v: string): string | undefined => (v.length > 0 ? undefined : 'must not be empty');
