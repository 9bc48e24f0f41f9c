/**
 * The demo's second half: what each feeder would write for the seed data, through the same pure transforms the
 * feeders run (no Redis, Kafka, SSH or InfluxDB needed) — what `feed … --stdout --once` prints against real sources.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { summarize } from './feeders/kafka/transform.js';
import { toLineProtocol } from './feeders/point.js';
import { compileFamily, DEFAULT_FAMILIES, globToRegExp } from './feeders/redis/config.js';
import { transformValue } from './feeders/redis/transform.js';
import { adslPoint, parseAdslStatus } from './feeders/router/parse.js';

export function demoFeeders(root: string): void {
  const fixtures = path.join(root, 'test/fixtures/feeders');
  const now = BigInt(Date.now()) * 1_000_000n;
  console.log('\nFeeders: the seed data through their transforms (what `feed … --stdout --once` prints)');

  console.log('\n  redis — building-management keys (JSON values, scaled, tags from the key):');
  const families = DEFAULT_FAMILIES.map((f) => compileFamily(f, 'defaults'));
  for (const line of readFileSync(path.join(fixtures, 'moc-redis-fixtures-synthetic.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const { key, value } = JSON.parse(line) as { key: string; value: unknown };
    const family = families.find((f) => f.shards.some((s) => globToRegExp(s).test(key)));
    if (!family) {
      console.log(`    ${key}: no family (skipped)`);
      continue;
    }
    const r = transformValue(family, key, typeof value === 'string' ? value : JSON.stringify(value), now);
    console.log(`    ${key}\n      → ${r.ok ? toLineProtocol(r.point) : `counted and skipped: ${r.reason}`}`);
  }

  console.log('\n  kafka — a monitoring notification becomes a terse summary:');
  const note = readFileSync(path.join(fixtures, 'umb-notification-inferred.json'));
  const s = summarize(note, '0');
  console.log(`    → ${s.ok ? toLineProtocol(s.point) : `dead-lettered: ${s.reason}`}`);

  console.log('\n  router — `show adsl status` over SSH:');
  for (const f of ['adsl-status-showtime.txt', 'adsl-status-training.txt', 'adsl-status-garbled.txt']) {
    const parsed = parseAdslStatus(readFileSync(path.join(fixtures, f), 'utf8'));
    console.log(`    ${f}\n      → ${parsed.ok ? toLineProtocol(adslPoint('router1', parsed, now)) : `counted as garbled: ${parsed.reason}`}`);
  }
}
