import { describe, expect, it } from 'vitest';
import { formatRetention } from './duration.js';

describe('formatRetention', () => {
  it.each([
    [100_000, '1d3h46m40s'],
    [0, 'infinite'],
    [1, '1s'],
    [60, '1m'],
    [3_600, '1h'],
    [86_400, '1d'],
    [2_592_000, '30d'],
    [604_800, '7d'],
    [90_061, '1d1h1m1s'],
    [86_401, '1d1s'],
    [3_599, '59m59s'],
  ])('%i s → %s', (seconds, literal) => {
    expect(formatRetention(seconds)).toBe(literal);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s', (seconds) => {
    expect(() => formatRetention(seconds)).toThrow(RangeError);
  });
});
