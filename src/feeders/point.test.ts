import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.js';
import { msToNs, secondsToNs, toLineProtocol, type FeedPoint } from './point.js';

/** The client's Point: the obviously correct (and slower) way to the same line. */
function viaClientPoint(p: FeedPoint): string | undefined {
  const point = new Point(p.measurement);
  for (const [k, v] of Object.entries(p.tags)) if (v !== '') point.tag(k, v);
  for (const [k, v] of Object.entries(p.fields)) {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) point.floatField(k, v);
    } else if (typeof v === 'boolean') point.booleanField(k, v);
    else point.stringField(k, v);
  }
  point.timestamp(p.time.toString());
  return point.toLineProtocol();
}

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

  it("writes what the client's Point writes, for random names, tags and fields", () => {
    const rand = mulberry32(7);
    const pieces = ['a', 'B', ' ', ',', '=', '"', '\\', 'é', '\n', 'x y', '', '0', 'state', 'tag'];
    const text = () => Array.from({ length: Math.floor(rand() * 4) }, () => pieces[Math.floor(rand() * pieces.length)]).join('');
    const values = [0, -0, 1.5, -2e-7, 1e21, 123456789012, Number.NaN, Number.POSITIVE_INFINITY, true, false, '', 'ok', 'say "hi" \\ there'];
    for (let i = 0; i < 2000; i++) {
      const p: FeedPoint = { measurement: text() || 'm', tags: {}, fields: {}, time: BigInt(Math.floor(rand() * 2 ** 53)) * 1000n + 789n };
      for (let t = Math.floor(rand() * 4); t > 0; t--) p.tags[text()] = text();
      for (let f = Math.floor(rand() * 4); f > 0; f--) p.fields[text()] = values[Math.floor(rand() * values.length)];
      expect(
        toLineProtocol(p),
        JSON.stringify(p, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).toBe(viaClientPoint(p));
    }
  });

  it('writes a raw line as it is', () => {
    expect(toLineProtocol({ measurement: 'cpu', tags: {}, fields: {}, time: 5n, raw: 'cpu,a=b n=3i 5' })).toBe('cpu,a=b n=3i 5');
  });

  it('converts times without passing ns through a number', () => {
    expect(msToNs(1523317852949)).toBe(1523317852949000000n);
    expect(secondsToNs(1467990000)).toBe(1467990000000000000n);
    expect(secondsToNs(1467990000.5)).toBe(1467990000500000000n);
    expect(secondsToNs(-1)).toBeUndefined();
  });
});
