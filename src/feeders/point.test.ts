import { describe, expect, it } from 'vitest';
import { msToNs, secondsToNs, toLineProtocol } from './point.js';

describe('points', () => {
  it('escapes names, tags and strings and keeps the ns time exact', () => {
    const line = toLineProtocol({
      measurement: 'mechanical cooling',
      tags: { device: 'CH3 (kwh)', site: 'a,b=c' },
      fields: { kwh: 126437, note: 'say "hi"', ok: true },
      time: 1468249200123456789n,
    });
    expect(line).toBe('mechanical\\ cooling,device=CH3\\ (kwh),site=a\\,b\\=c kwh=126437,note="say \\"hi\\"",ok=T 1468249200123456789');
  });

  it('has no line for a point without fields, and skips non-finite numbers', () => {
    expect(toLineProtocol({ measurement: 'm', tags: {}, fields: {}, time: 1n })).toBeUndefined();
    expect(toLineProtocol({ measurement: 'm', tags: {}, fields: { a: Number.NaN, b: 1 }, time: 1n })).toBe('m b=1 1');
  });

  it('converts times without passing ns through a number', () => {
    expect(msToNs(1523317852949)).toBe(1523317852949000000n);
    expect(secondsToNs(1467990000)).toBe(1467990000000000000n);
    expect(secondsToNs(1467990000.5)).toBe(1467990000500000000n);
    expect(secondsToNs(-1)).toBeUndefined();
  });
});
