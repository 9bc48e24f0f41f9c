/**
 * `--shard i/n` of the Redis feeder: n feeders split every family's keys between them by a hash of the key, so none is
 * read twice and none is missed. Kept apart from the feeder so the command line can parse the option without loading
 * the Redis client.
 */
import { SidecarError } from '../../errors.js';

/** Shard `index` (1-based) of `count`: the keys whose hash falls in it. */
export interface Shard {
  index: number;
  count: number;
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new SidecarError('CONFIG_INVALID', `--shard ${JSON.stringify(text)}: expected i/n with 1 ≤ i ≤ n, e.g. --shard 2/3`);
  }
  return { index, count };
}

/**
 * The shard (1-based) a key belongs to: FNV-1a (32-bit) of its UTF-8 bytes, modulo the count. It depends on the key
 * alone, so n feeders that each SCAN the same patterns split the keys between them with none read twice and none
 * missed, and a new key lands in exactly one shard.
 */
export function shardOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % count) + 1;
}
