import { describe, expect, it } from 'vitest';
import { Duration, influxqlDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads TICKscript duration literals to exact nanoseconds', () => {
    expect(parseDuration('90s')).toBe(90_000_000_000n);
    expect(parseDuration('1m30s')).toBe(90_000_000_000n);
    expect(parseDuration('1d3h46m40s')).toBe(100_000_000_000_000n);
    expect(parseDuration('500ms')).toBe(500_000_000n);
    expect(parseDuration('10u')).toBe(10_000n);
    expect(parseDuration('7ns')).toBe(7n);
    expect(parseDuration('2w')).toBe(1_209_600_000_000_000n);
    expect(parseDuration('0')).toBe(0n);
  });

  it('rejects what is not a literal', () => {
    for (const bad of ['', '10', '1.5s', 'soon', '5m garbage', '-1s']) expect(() => parseDuration(bad)).toThrow(/not a duration literal/);
  });
});

describe('influxqlDuration', () => {
  it('reads what Kapacitor takes for a duration var, to the same nanoseconds as parseDuration', () => {
    for (const literal of ['1h30m', '10s', '250ms', '10u', '3µ', '7ns', '1d3h46m40s', '2w', '9223372036s']) {
      expect(influxqlDuration(literal)).toBe(parseDuration(literal));
    }
  });

  it('refuses what InfluxQL refuses, though parseDuration is more lenient', () => {
    for (const lenient of ['0', ' 10s', '10us', '5µs']) {
      expect(() => parseDuration(lenient)).not.toThrow();
      expect(influxqlDuration(lenient)).toBeUndefined();
    }
    for (const bad of ['', '10', '10 s', '1.5h', '-1s', 'soon']) expect(influxqlDuration(bad)).toBeUndefined();
  });
});

describe('Duration', () => {
  it('is exact in ns, a number for arithmetic, and prints as the literal that wrote it', () => {
    const d = Duration.of('90s');
    expect(d.ns).toBe(90_000_000_000n);
    expect(d.nanos).toBe(90e9);
    expect([d, Duration.of('1h'), Duration.of('1500ms'), new Duration(7n), new Duration(0n)].map(String)).toEqual(['90s', '1h', '1500ms', '7ns', '0s']);
    expect(JSON.stringify({ d })).toBe('{"d":"90000000000"}');
  });
});
