import { describe, expect, it } from 'vitest';
import { CounterRates } from './rate.js';

const S = 1_000_000_000n;
const T0 = 1_700_000_000n * S;

describe('counter rates', () => {
  it('gives nothing for a first reading, then the increase per second', () => {
    const r = new CounterRates();
    expect(r.rate('a', 1000, T0)).toBeUndefined();
    expect(r.rate('a', 1600, T0 + 60n * S)).toBe(10);
    expect(r.rate('a', 1600, T0 + 120n * S)).toBe(0);
  });

  it('takes a lower reading as a reset: the counter has counted up from zero since', () => {
    const r = new CounterRates();
    r.rate('a', 5_000_000, T0);
    expect(r.rate('a', 300, T0 + 30n * S)).toBe(10);
    expect(r.rate('a', 600, T0 + 60n * S)).toBe(10);
  });

  it('keeps series apart and skips a reading whose time did not advance', () => {
    const r = new CounterRates();
    r.rate('a', 0, T0);
    r.rate('b', 100, T0);
    expect(r.rate('a', 0, T0)).toBeUndefined();
    expect(r.rate('b', 110, T0 + S / 2n)).toBe(20);
    expect(r.rate('a', 5, T0 + S)).toBe(5);
    expect(r.size).toBe(2);
  });
});
