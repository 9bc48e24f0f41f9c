import { describe, expect, it } from 'vitest';
import { summarize } from '../feeders/kafka/transform.js';
import { generateMoc } from '../feeders/redis/generator.js';
import { BENCH_TENANT, benchMessage, expectedKafkaCounts, expectedRedisPoints, scaledMoc } from './feeder-workload.js';

describe('feeder benchmark workload', () => {
  it('makes messages the summary reads, one distinct time each, with the kinds it says', () => {
    const counts = { valid: 0, filtered: 0, unparsable: 0 };
    const times = new Set<bigint>();
    const wrong: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const m = benchMessage(i, 6);
      counts[m.kind]++;
      const r = summarize(m.value, '1');
      const seen = !r.ok ? (r.reason === 'not_json' ? 'unparsable' : r.reason) : r.tenant === BENCH_TENANT ? 'valid' : 'filtered';
      const header = m.headers.tenantId === BENCH_TENANT ? 'valid' : 'filtered';
      if (seen !== m.kind || (m.kind !== 'unparsable' && header !== m.kind) || m.partition !== i % 6) wrong.push(`${i}: ${m.kind} read as ${seen}`);
      if (r.ok) times.add(r.point.time);
    }
    expect(wrong).toEqual([]);
    expect(counts).toEqual(expectedKafkaCounts(10_000));
    expect(counts).toEqual({ valid: 7999, filtered: 2000, unparsable: 1 });
    expect(times.size).toBe(10_000 - 1);
  });

  it('copies the MOC with distinct keys that keep their kinds', () => {
    // Each copy is a generator run of its own seed, so its churning keys differ.
    const copies = [0, 1, 2].map((c) => generateMoc({ seed: 42 + c }));
    const keys = scaledMoc(3);
    expect(keys).toHaveLength(copies.reduce((a, c) => a + c.length, 0));
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(keys.map((k) => k.kind)).toEqual(copies.flat().map((k) => k.kind));
    expect(expectedRedisPoints(keys)).toBe(copies.reduce((a, c) => a + expectedRedisPoints(c), 0));
    expect(keys.filter((k) => k.key.startsWith('mechanical:irc:R1-PA-IRC01')).map((k) => k.key)).toEqual([
      'mechanical:irc:R1-PA-IRC010000:JSON',
      'mechanical:irc:R1-PA-IRC010001:JSON',
      'mechanical:irc:R1-PA-IRC010002:JSON',
    ]);
  });
});
