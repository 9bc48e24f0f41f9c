/**
 * Influx duration literals (`90s`, `1m30s`, `500ms`, `1d3h46m40s`) → nanoseconds as bigint, the way TICKscript and
 * InfluxQL write them. `u`/`µ` are microseconds, `w` weeks, `d` days.
 */
const UNITS: Record<string, bigint> = {
  ns: 1n,
  u: 1_000n,
  µs: 1_000n,
  us: 1_000n,
  µ: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

const ANY_LITERAL = /^(?:\d+(?:ns|us|µs|ms|u|µ|s|m|h|d|w))+$/;
/** InfluxQL's own units, which Kapacitor reads in a task var: `u` and `µ` for microseconds, no `us`/`µs`. */
const INFLUXQL_LITERAL = /^(?:\d+(?:ns|ms|u|µ|s|m|h|d|w))+$/;

function nanos(literal: string): bigint {
  let total = 0n;
  for (const [, n, unit] of literal.matchAll(/(\d+)(ns|us|µs|ms|u|µ|s|m|h|d|w)/g)) total += BigInt(n) * UNITS[unit];
  return total;
}

export function parseDuration(text: string): bigint {
  const s = text.trim();
  if (s === '0') return 0n;
  if (!ANY_LITERAL.test(s)) throw new Error(`'${text}' is not a duration literal (like 90s, 1m30s, 500ms, 2h)`);
  return nanos(s);
}

/**
 * Exactly an InfluxQL duration literal, as Kapacitor reads a duration var (`1h30m`, `10s`): no spaces, no bare `0`,
 * no `us`. Undefined for anything else.
 */
export function influxqlDuration(text: string): bigint | undefined {
  return INFLUXQL_LITERAL.test(text) ? nanos(text) : undefined;
}

/**
 * A length of time, exact in nanoseconds: what a `duration` option is. `nanos` is the same as a number, exact up to
 * 2^53 ns (104 days), for arithmetic with elapsed times (Time.since); `ns` stays exact at any length.
 */
export class Duration {
  readonly nanos: number;

  constructor(readonly ns: bigint) {
    this.nanos = Number(ns);
  }

  /** From a literal: `Duration.of('90s')`. */
  static of(text: string): Duration {
    return new Duration(parseDuration(text));
  }

  /** As a literal in the largest unit that divides it exactly: '90s', '1h', '1500ms'. */
  toString(): string {
    if (this.ns === 0n) return '0s';
    for (const unit of ['w', 'd', 'h', 'm', 's', 'ms', 'us', 'ns']) {
      const n = UNITS[unit];
      if (this.ns % n === 0n) return `${this.ns / n}${unit}`;
    }
    return `${this.ns}ns`;
  }

  /** Nanoseconds as a string, as option fingerprints (and so snapshots) have always written a duration. */
  toJSON(): string {
    return this.ns.toString();
  }
}
