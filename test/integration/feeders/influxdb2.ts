// InfluxDB 2.7 helpers for the feeder tests: a bucket per test and Flux read-back with exact ns times.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import type { InfluxDB2Setup } from '../stack.js';

/** Creates a bucket in the setup's org (infinite retention) and returns its name. */
export async function createBucket(s: InfluxDB2Setup, name: string): Promise<string> {
  const res = await fetch(`${s.url}/api/v2/buckets`, {
    method: 'POST',
    headers: { authorization: `Token ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ orgID: s.orgID, name, retentionRules: [] }),
  });
  if (res.status !== 201) throw new Error(`InfluxDB 2 create bucket ${name}: ${res.status} ${await res.text()}`);
  return name;
}

export async function deleteBucket(s: InfluxDB2Setup, name: string): Promise<void> {
  const res = await fetch(`${s.url}/api/v2/buckets?org=${encodeURIComponent(s.org)}&name=${encodeURIComponent(name)}`, {
    headers: { authorization: `Token ${s.token}` },
  });
  const body = (await res.json()) as { buckets?: Array<{ id: string }> };
  for (const b of body.buckets ?? []) {
    await fetch(`${s.url}/api/v2/buckets/${b.id}`, { method: 'DELETE', headers: { authorization: `Token ${s.token}` } });
  }
}

/** Writes the token to a 0600 file for the feeder's `tokenFile` (secrets never sit in the config). */
export function tokenFile(token: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'feeder-token-')), 'token');
  writeFileSync(f, `${token}\n`, { mode: 0o600 });
  chmodSync(f, 0o600);
  return f;
}

export interface FluxPoint {
  /** `_time` in ns since the epoch, exact (Flux `int(v: _time)` read as text, never through a JS number). */
  ns: bigint;
  field: string;
  value: string;
  tags: Record<string, string>;
}

/**
 * Every point of MEASUREMENT in BUCKET through the v2 query API (Flux, @influxdata/influxdb-client's QueryApi), one
 * row per field, sorted by time then field. Values are the CSV text.
 */
export async function fluxPoints(s: InfluxDB2Setup, bucket: string, measurement: string): Promise<FluxPoint[]> {
  const api = new InfluxDB({ url: s.url, token: s.token }).getQueryApi(s.org);
  const flux = `from(bucket: ${JSON.stringify(bucket)})
  |> range(start: 0)
  |> filter(fn: (r) => r._measurement == ${JSON.stringify(measurement)})
  |> map(fn: (r) => ({r with _ns: string(v: int(v: r._time))}))`;
  const out: FluxPoint[] = [];
  for await (const { values, tableMeta } of api.iterateRows(flux)) {
    const tags: Record<string, string> = {};
    let ns = '';
    let field = '';
    let value = '';
    for (const c of tableMeta.columns) {
      const v = values[c.index] ?? '';
      if (c.label === '_ns') ns = v;
      else if (c.label === '_field') field = v;
      else if (c.label === '_value') value = v;
      else if (!c.label.startsWith('_') && c.label !== 'result' && c.label !== 'table') tags[c.label] = v;
    }
    out.push({ ns: BigInt(ns), field, value, tags });
  }
  return out.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.field.localeCompare(b.field)));
}
