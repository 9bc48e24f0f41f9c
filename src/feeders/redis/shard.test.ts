import { describe, expect, it } from 'vitest';
import { generateMoc } from './generator.js';
import { parseShard, shardOf } from './shard.js';

describe('--shard i/n', () => {
  it('parses i/n (1-based) and refuses anything else with the expected form', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/3', '4/3', '3', '1/0', 'a/b', '-1/2', '1/2/3'])
      expect(() => parseShard(bad)).toThrow(/expected i\/n with 1 ≤ i ≤ n, e\.g\. --shard 2\/3/);
  });

  it('puts every key in exactly one of n shards, the same one in every process, and spreads them', () => {
    const keys = generateMoc({ pass: 0, timestamp: 1468249200 }).map((k) => k.key);
    for (const n of [2, 3, 7]) {
      const sizes = new Array(n).fill(0);
      for (const key of keys) {
        const s = shardOf(key, n);
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThanOrEqual(n);
        sizes[s - 1]++;
      }
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(keys.length);
      // Not a timing: a hash that sent most keys to one shard would defeat the point.
      for (const size of sizes) expect(size).toBeGreaterThan(keys.length / n / 2);
    }
    // FNV-1a of the UTF-8 bytes, so other tools can tell where a key goes.
    expect(shardOf('a', 1 << 30)).toBe((0xe40c292c % (1 << 30)) + 1);
    expect(shardOf('électrique', 5)).toBe(shardOf('électrique', 5));
  });
});
