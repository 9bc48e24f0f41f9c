/**
 * InfluxDB duration literals for retention policies. A bucket's retention is whole seconds (0 = keep forever); a DBRP
 * mapping names its retention policy after it, e.g. 100000 s → `1d3h46m40s`, 0 → `infinite`. Weeks are not used:
 * `30d` reads better than `4w2d` and both parse the same.
 */
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
];

export function formatRetention(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`a retention must be a whole, non-negative number of seconds, got ${seconds}`);
  }
  if (seconds === 0) return 'infinite';
  let rest = seconds;
  let text = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return text;
}
