/**
 * Which database/retention policy pairs exist, asked through InfluxQL (`SHOW DATABASES`, `SHOW RETENTION POLICIES`):
 * both InfluxDB 1.x and 2.x (through its DBRP mappings) answer these on /query, so one path serves both.
 */
import { SidecarError } from '../errors.js';
import type { Dbrp } from './plan.js';

interface QueryJson {
  results?: Array<{ error?: string; series?: Array<{ columns: string[]; values?: unknown[][] }> }>;
  error?: string;
}

export interface InfluxQueryTarget {
  url: string;
  /** v2 token, or `user:password` for 1.x with auth. */
  token?: string;
  timeoutMs?: number;
}

export async function discoverDatabases(target: InfluxQueryTarget): Promise<Dbrp[]> {
  const dbs = column(await query(target, 'SHOW DATABASES'), 'name').map(String);
  const found: Dbrp[] = [];
  for (const db of dbs) {
    const rps = await query(target, `SHOW RETENTION POLICIES ON "${db.replace(/"/g, '\\"')}"`);
    const rp = defaultRetentionPolicy(rps);
    if (rp !== undefined) found.push({ db, rp });
  }
  return found;
}

/** The default retention policy's name from a SHOW RETENTION POLICIES answer. Pure. */
export function defaultRetentionPolicy(json: QueryJson): string | undefined {
  const series = json.results?.[0]?.series?.[0];
  if (!series) return undefined;
  const name = series.columns.indexOf('name');
  const isDefault = series.columns.indexOf('default');
  const row = (series.values ?? []).find((v) => v[isDefault] === true) ?? (series.values ?? [])[0];
  return row ? String(row[name]) : undefined;
}

/** Databases whose name matches `match` and not `exclude`, sorted. Pure. */
export function selectDatabases(all: Dbrp[], match: RegExp, exclude?: RegExp): Dbrp[] {
  return all.filter((d) => match.test(d.db) && !(exclude?.test(d.db) ?? false)).sort((a, b) => a.db.localeCompare(b.db) || a.rp.localeCompare(b.rp));
}

/** `db` or `db.rp` (the first dot splits; rp defaults to autogen). Pure. */
export function parseDbrp(text: string): Dbrp {
  const dot = text.indexOf('.');
  return dot < 0 ? { db: text, rp: 'autogen' } : { db: text.slice(0, dot), rp: text.slice(dot + 1) };
}

function column(json: QueryJson, name: string): unknown[] {
  const series = json.results?.[0]?.series?.[0];
  if (!series) return [];
  const i = series.columns.indexOf(name);
  return (series.values ?? []).map((v) => v[i]);
}

async function query(target: InfluxQueryTarget, q: string): Promise<QueryJson> {
  const url = `${target.url.replace(/\/+$/, '')}/query?q=${encodeURIComponent(q)}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: target.token ? { authorization: `Token ${target.token}` } : undefined,
      signal: AbortSignal.timeout(target.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    throw new SidecarError('INFLUX_QUERY', `InfluxDB ${target.url}: ${q} failed: ${cause}`, { cause: err, retriable: true });
  }
  const text = await res.text();
  let json: QueryJson;
  try {
    json = JSON.parse(text) as QueryJson;
  } catch {
    throw new SidecarError('INFLUX_QUERY', `InfluxDB ${target.url}: ${q} failed: HTTP ${res.status}: ${text.slice(0, 200)}`, { retriable: res.status >= 500 });
  }
  const error = json.error ?? json.results?.[0]?.error;
  if (!res.ok || error)
    throw new SidecarError('INFLUX_QUERY', `InfluxDB ${target.url}: ${q} failed: HTTP ${res.status}: ${error ?? text.slice(0, 200)}`, {
      retriable: res.status >= 500,
    });
  return json;
}
