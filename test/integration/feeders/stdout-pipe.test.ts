/**
 * `udf-sidecar feed redis --stdout --once | head -1` against a real Redis holding the MOC layout: the reader closes
 * the pipe after one line while the feeder still writes; the feeder ends quietly with status 0, no EPIPE trace.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyToRedis, generateMoc } from '../../../src/feeders/redis/generator.js';
import { ensureRedis } from '../stack.js';
import { buildOnce, spawnFeeder, writeConfig } from './helpers.js';

// A logical database of its own, so the default SCAN patterns see only what this file seeds.
const REDIS_DB = 12;
let redis: Redis;
let redisUrl: string;

beforeAll(async () => {
  buildOnce();
  const { host, port } = await ensureRedis();
  redisUrl = `redis://${host}:${port}/${REDIS_DB}`;
  redis = new Redis(redisUrl);
  await redis.flushdb();
  await applyToRedis(redis, generateMoc({ seed: 7 }));
});

afterAll(async () => {
  await redis?.flushdb();
  redis?.disconnect();
});

describe('feed --stdout into a pipe its reader closes', () => {
  it('ends with status 0 and nothing but logs on stderr', async () => {
    const p = spawnFeeder(['redis', '--stdout', '--once', '--config', writeConfig(`redis:\n  url: ${redisUrl}\n`)]);
    // `head -1`: take the first chunk of line protocol, then close the read end.
    await new Promise<void>((resolve) => p.child.stdout!.once('data', () => resolve()));
    p.child.stdout!.destroy();
    const { code } = await p.exited;
    expect(p.stdout().split('\n')[0]).toMatch(/^\w+(,\S+)? \S+ \d+$/);
    expect(code, p.stderr()).toBe(0);
    expect(p.stderr()).not.toMatch(/EPIPE|^\s+at /m);
    for (const line of p.stderr().trim().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
