import { describe, expect, it } from 'vitest';
import { WindowedCounts } from './windows.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN);

describe('windowed counts', () => {
  it('sums whole minutes over 5 min, 1 h and 24 h', () => {
    const w = new WindowedCounts();
    w.add('consumed', 1, T0 - 23 * 60 * MIN);
    w.add('consumed', 10, T0 - 30 * MIN);
    w.add('consumed', 100, T0 - 2 * MIN);
    w.add('consumed', 1000, T0 + 1);
    expect(w.summary(['consumed', 'written'], T0 + 5)).toEqual({
      consumed: { '5m': 1100, '1h': 1110, '24h': 1111 },
      written: { '5m': 0, '1h': 0, '24h': 0 },
    });
  });

  it('forgets a slot when the ring comes round to it again', () => {
    const w = new WindowedCounts(10 * MIN);
    w.add('x', 5, T0);
    w.add('x', 7, T0 + 10 * MIN);
    expect(w.sum('x', 10 * MIN, T0 + 10 * MIN)).toBe(7);
    expect(w.sum('x', 10 * MIN, T0 + 25 * MIN)).toBe(0);
  });
});
