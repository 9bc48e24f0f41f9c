/**
 * One option schema per function: it produces the InfoResponse's option list (what TICKscript checks `.field('x')`
 * against) and validates Init options into typed values. Kapacitor checks count and type of arguments against the
 * declared types itself, but a UDF must not trust that: replays, other clients and version drift all reach Init.
 */
import { OptionError } from './errors.js';
import type { InitOption, OptionValue, ValueType } from './messages.js';

export interface OptionSpec {
  type: ValueType;
  doc: string;
  /** May be given more than once (`.field('a').field('b')`); parsed as an array. */
  repeated?: boolean;
  required?: boolean;
  default?: unknown;
  /**
   * The largest value accepted, for an option that sizes memory (a window of N points): documented in the option's
   * doc and refused at Init above it.
   */
  max?: number | bigint;
  /** Extra range check; returns a complaint, or undefined when the value is fine. */
  check?: (value: never) => string | undefined;
}

export type OptionSchema = Record<string, OptionSpec>;

type ValueOf<T extends ValueType> = T extends 'bool' ? boolean : T extends 'int' | 'duration' ? bigint : T extends 'double' ? number : string;

export type ParsedOptions<S extends OptionSchema> = {
  [K in keyof S]: S[K] extends { repeated: true }
    ? ValueOf<S[K]['type']>[]
    : S[K] extends { required: true }
      ? ValueOf<S[K]['type']>
      : S[K] extends { default: unknown }
        ? ValueOf<S[K]['type']>
        : ValueOf<S[K]['type']> | undefined;
};

export function infoOptions(schema: OptionSchema): Record<string, ValueType[]> {
  const out: Record<string, ValueType[]> = {};
  for (const [name, spec] of Object.entries(schema)) out[name] = [spec.type];
  return out;
}

function describe(v: OptionValue): string {
  return v.type === 'string' ? `${v.type} '${v.value}'` : `${v.type} ${String(v.value)}`;
}

/** Typed options from an InitRequest; throws OptionError naming the first bad option. */
export function parseOptions<S extends OptionSchema>(schema: S, given: InitOption[]): ParsedOptions<S> {
  const out: Record<string, unknown> = {};
  for (const opt of given) {
    const spec = Object.hasOwn(schema, opt.name) ? schema[opt.name] : undefined;
    if (!spec) {
      throw new OptionError(opt.name, `unknown option (known: ${Object.keys(schema).join(', ')})`);
    }
    if (opt.values.length !== 1) {
      throw new OptionError(opt.name, `expects exactly 1 ${spec.type} argument, got ${opt.values.length}`);
    }
    const v = opt.values[0];
    if (v.type !== spec.type) throw new OptionError(opt.name, `expects a ${spec.type}, got ${describe(v)}`);
    if (spec.max !== undefined && (v.value as number | bigint) > spec.max) {
      throw new OptionError(opt.name, `must be at most ${String(spec.max)}, got ${describe(v)}`);
    }
    const complaint = spec.check?.(v.value as never);
    if (complaint) throw new OptionError(opt.name, `${complaint}, got ${describe(v)}`);
    if (spec.repeated) {
      ((out[opt.name] ??= []) as unknown[]).push(v.value);
    } else if (opt.name in out) {
      throw new OptionError(opt.name, 'given more than once');
    } else {
      out[opt.name] = v.value;
    }
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (name in out) continue;
    if (spec.required) throw new OptionError(name, 'is required');
    out[name] = spec.repeated ? (spec.default ?? []) : spec.default;
  }
  return out as ParsedOptions<S>;
}

/** A stable text of parsed options (bigints as strings, keys sorted): snapshots carry it to detect redefined tasks. */
export function optionsFingerprint(options: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(options)
      .sort()
      .map((k) => [k, options[k]]),
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

export const positive = (v: bigint | number): string | undefined => (v > 0 ? undefined : 'must be > 0');
export const nonNegative = (v: bigint | number): string | undefined => (v >= 0 ? undefined : 'must be >= 0');
export const nonEmpty = (v: string): string | undefined => (v.length > 0 ? undefined : 'must not be empty');
