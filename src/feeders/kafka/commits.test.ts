import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../random.js';
import { PartitionCommits } from './commits.js';

describe('PartitionCommits', () => {
  it('commits nothing while an earlier chunk is on its way, then past every delivered one', () => {
    const p = new PartitionCommits();
    const a = p.begin(100n, 1);
    const b = p.begin(200n, 2);
    const c = p.begin(300n, 3);
    expect(p.deliver(c)).toBeUndefined();
    expect(p.deliver(b)).toBeUndefined();
    expect(p.committable).toBeUndefined();
    expect(p.oldestPendingMs).toBe(1);
    expect(p.deliver(a)).toBe(300n);
    expect(p.pending).toBe(0);
    expect(p.oldestPendingMs).toBeUndefined();
  });

  it('commits a prefix as soon as it is delivered', () => {
    const p = new PartitionCommits();
    const a = p.begin(10n, 1);
    const b = p.begin(20n, 2);
    const c = p.begin(30n, 3);
    expect(p.deliver(a)).toBe(10n);
    expect(p.deliver(c)).toBeUndefined();
    expect(p.oldestPendingMs).toBe(2);
    expect(p.deliver(b)).toBe(30n);
  });

  it('after a chunk failed, nothing later commits', () => {
    const p = new PartitionCommits();
    const a = p.begin(10n, 1);
    p.begin(20n, 2);
    const c = p.begin(30n, 3);
    expect(p.deliver(a)).toBe(10n);
    p.fail();
    expect(p.deliver(c)).toBeUndefined();
    expect(p.committable).toBe(10n);
    expect(p.failed).toBe(true);
  });

  it('refuses chunks begun out of offset order', () => {
    const p = new PartitionCommits();
    p.begin(10n, 1);
    expect(() => p.begin(10n, 1)).toThrow(/begun after/);
  });

  it('in any order of deliveries, every commit covers only delivered chunks, and the last one covers all', () => {
    const random = mulberry32(7);
    for (let round = 0; round < 100; round++) {
      const p = new PartitionCommits();
      const n = 1 + Math.floor(random() * 100);
      const chunks = Array.from({ length: n }, (_, i) => p.begin(BigInt((i + 1) * 10), i));
      const order = chunks.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const delivered = new Set<number>();
      let last = 0n;
      for (const i of order) {
        delivered.add(i);
        const commit = p.deliver(chunks[i]);
        if (commit === undefined) continue;
        expect(commit).toBeGreaterThan(last);
        last = commit;
        // Every chunk at or below the committed offset was delivered.
        for (let j = 0; BigInt((j + 1) * 10) <= commit; j++) expect(delivered.has(j)).toBe(true);
      }
      expect(last).toBe(BigInt(n * 10));
    }
  }, 60_000);
});
