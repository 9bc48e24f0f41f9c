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

export function parseDuration(text: string): bigint {
  const re = /(\d+)(ns|us|µs|u|µ|ms|s|m|h|d|w)/gy;
  let total = 0n;
  let matched = 0;
  const s = text.trim();
  if (s === '0') return 0n;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += BigInt(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) {
    throw new Error(`'${text}' is not a duration literal (like 90s, 1m30s, 500ms, 2h)`);
  }
  return total;
}
