import type { Redis } from 'ioredis';
import type { FamilyConfig } from './config.js';

/**
 * Reading the keyspace: one SCAN per pass for every family's patterns, the keys sorted into units on the client, and
 * MGET in pipelines.
 *
 * A SCAN walks the whole keyspace whatever its MATCH (Redis filters after walking), so a SCAN per pattern walks it once
 * per pattern: 33 times for the default families. One SCAN, with MATCH only where every pattern shares a literal
 * prefix, walks it once, and each key is matched here against the patterns with Redis's own glob rules.
 */

/** What reading one listed key gave: its text, nothing (it vanished since SCAN), or a value of another type. */
export type Fetched = { key: string; kind: 'string'; value: string } | { key: string; kind: 'vanished' } | { key: string; kind: 'not_string'; type: string };

/** The keys of one SCAN pattern of a family: what one MGET round reads and one write hands over. */
export interface Unit {
  family: FamilyConfig;
  pattern: string;
  keys: string[];
}

const escapeRegExp = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * A Redis glob (`*`, `?`, `[abc]`, `[^a-z]`, `\x` for a literal x) as a RegExp over the whole key. Redis matches
 * bytes and this matches UTF-16 characters: the same for every pattern and key in ASCII; a `?` or `[…]` against a
 * non-ASCII character may differ (Redis sees each of its UTF-8 bytes).
 */
export function redisGlobToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRegExp(glob[++i]);
    else if (c === '[') {
      let j = i + 1;
      const negate = glob[j] === '^';
      if (negate) j++;
      let members = '';
      // As Redis does, a class runs to the next `]` or, unclosed, to the end of the pattern.
      for (; j < glob.length && glob[j] !== ']'; j++) {
        if (glob[j] === '\\' && j + 1 < glob.length) members += escapeRegExp(glob[++j]);
        else if (glob[j + 1] === '-' && j + 2 < glob.length) {
          // As Redis does: the character after `-` ends the range even if it is `]`, and a range written backwards
          // (`[z-a]`) is the same range.
          const [lo, hi] = [glob[j], glob[j + 2]].sort();
          members += `${escapeRegExp(lo)}-${escapeRegExp(hi)}`;
          j += 2;
        } else members += escapeRegExp(glob[j]);
      }
      re += members === '' ? (negate ? '[\\s\\S]' : '(?!)') : `[${negate ? '^' : ''}${members}]`;
      i = j;
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`);
}

/** The literal text a glob starts with (up to its first special character). */
export function literalPrefix(glob: string): string {
  const i = glob.search(/[*?[\\]/);
  return i < 0 ? glob : glob.slice(0, i);
}

function commonPrefix(texts: string[]): string {
  let prefix = texts[0] ?? '';
  for (const t of texts) while (!t.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

/**
 * One SCAN (never KEYS: it blocks the server) for every pattern of every family, each key given to every pattern it
 * matches and `keep` accepts (a shard's share). SCAN may repeat a key: the result is de-duplicated. Each unit's keys
 * are sorted, so a pass reads in a stable order.
 */
export async function scanUnits(redis: Redis, families: FamilyConfig[], count: number, keep: (key: string) => boolean): Promise<Unit[]> {
  const units: Unit[] = [];
  const prefixes: string[] = [];
  // Matchers by the length and text of their literal prefix: a key is tried only against the patterns whose prefix
  // it starts with (a slice and a lookup per distinct prefix length), not against all of them.
  const byPrefix = new Map<number, Map<string, Array<{ unit: Unit; re: RegExp }>>>();
  for (const family of families) {
    for (const pattern of family.shards) {
      const unit: Unit = { family, pattern, keys: [] };
      units.push(unit);
      const prefix = literalPrefix(pattern);
      prefixes.push(prefix);
      let ofLength = byPrefix.get(prefix.length);
      if (ofLength === undefined) byPrefix.set(prefix.length, (ofLength = new Map()));
      const list = ofLength.get(prefix) ?? [];
      list.push({ unit, re: redisGlobToRegExp(pattern) });
      ofLength.set(prefix, list);
    }
  }
  const lengths = [...byPrefix.keys()];
  const common = commonPrefix(prefixes);
  const match = common === '' ? undefined : `${common.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = match === undefined ? await redis.scan(cursor, 'COUNT', count) : await redis.scan(cursor, 'MATCH', match, 'COUNT', count);
    for (const key of batch) {
      let wanted = false;
      for (const length of lengths) {
        if (key.length < length) continue;
        const candidates = byPrefix.get(length)!.get(key.slice(0, length));
        if (candidates === undefined) continue;
        for (const m of candidates) {
          if (!m.re.test(key)) continue;
          if (!wanted) {
            if (seen.has(key) || !keep(key)) break;
            seen.add(key);
            wanted = true;
          }
          m.unit.keys.push(key);
        }
        if (!wanted && seen.has(key)) break;
      }
    }
    cursor = next;
  } while (cursor !== '0');
  for (const unit of units) unit.keys.sort();
  return units;
}

/**
 * MGET in pipelines of `depth` commands of `batch` keys, one round trip per pipeline, yielded round by round with
 * the next round already asked for: Redis answers it while the caller transforms this one. MGET answers nil both for
 * a key that vanished and for one that is not a string, so the nil ones are asked their TYPE to tell which.
 */
export async function* fetchRounds(redis: Redis, keys: string[], batch: number, depth: number): AsyncGenerator<Fetched[]> {
  const perRound = batch * depth;
  const ask = (from: number): Promise<Fetched[]> | undefined => {
    if (from >= keys.length) return undefined;
    const round = fetchRound(redis, keys.slice(from, from + perRound), batch);
    // Awaited in turn below; until then a failure must not count as unhandled.
    round.catch(() => undefined);
    return round;
  };
  let next = ask(0);
  for (let from = 0; next !== undefined; ) {
    const current = next;
    from += perRound;
    next = ask(from);
    yield await current;
  }
}

/** Every value of `keys`, in rounds as fetchRounds reads them. */
export async function fetchValues(redis: Redis, keys: string[], batch: number, depth: number): Promise<Fetched[]> {
  const out: Fetched[] = [];
  for await (const round of fetchRounds(redis, keys, batch, depth)) out.push(...round);
  return out;
}

async function fetchRound(redis: Redis, keys: string[], batch: number): Promise<Fetched[]> {
  const pipeline = redis.pipeline();
  const chunks: string[][] = [];
  for (let j = 0; j < keys.length; j += batch) {
    const chunk = keys.slice(j, j + batch);
    chunks.push(chunk);
    pipeline.mget(...chunk);
  }
  const results = (await pipeline.exec()) ?? [];
  const out: Fetched[] = [];
  const nil: string[] = [];
  chunks.forEach((chunk, c) => {
    const [err, values] = results[c] ?? [new Error('no reply')];
    if (err) throw err;
    chunk.forEach((key, k) => {
      const v = (values as Array<string | null>)[k];
      if (v === null || v === undefined) nil.push(key);
      else out.push({ key, kind: 'string', value: v });
    });
  });
  if (nil.length > 0) out.push(...(await typesOf(redis, nil)));
  return out;
}

async function typesOf(redis: Redis, keys: string[]): Promise<Fetched[]> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.type(key);
  const results = (await pipeline.exec()) ?? [];
  return keys.map((key, i): Fetched => {
    const type = String(results[i]?.[1] ?? 'none');
    return type === 'none' ? { key, kind: 'vanished' } : { key, kind: 'not_string', type };
  });
}
