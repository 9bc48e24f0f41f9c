import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SUMMARY_RULES, summarize, tenantFromHeaders } from './transform.js';

const sample = readFileSync(new URL('../../../test/fixtures/feeders/umb-notification-inferred.json', import.meta.url), 'utf8');
const doc = JSON.parse(sample) as Record<string, any>;
const KAFKA_TS = '1523317999000';

describe('notification summary', () => {
  it('keeps the UTC time in ns, the tenant, and splits the entity label without gluing tokens', () => {
    const r = summarize(Buffer.from(sample), KAFKA_TS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.point.time).toBe(BigInt(doc.details.timestamp) * 1_000_000n);
    expect(r.point.tags).toEqual({
      tenant: 'hybrid:4958307',
      node: 'web01',
      environment: 'prod-a2',
      customer: 'somecust',
      check: 'cpu_usage',
      alarm: 'CPU high',
    });
    expect(r.point.fields).toEqual({ state: 'CRITICAL', status: 'CPU at 97%', entity: 'web01-prod-a2.somecust' });
    expect(r.point.measurement).toBe('maas_notification');
    expect(r.labelParsed).toBe(true);
  });

  it('tags a label that does not parse instead of inventing an environment', () => {
    const odd = { ...doc, entity: { label: 'standalone_box' } };
    const r = summarize(JSON.stringify(odd), KAFKA_TS);
    expect(r.ok && r.point.tags.label_parse).toBe('failed');
    expect(r.ok && r.point.tags).not.toHaveProperty('environment');
    expect(r.ok && r.point.tags).not.toHaveProperty('node');
  });

  it('takes the label pattern and paths from the rules', () => {
    const rules = {
      ...DEFAULT_SUMMARY_RULES,
      labelPattern: /^(?<customer>[^.]+)\.(?<node>.+)$/,
      paths: { ...DEFAULT_SUMMARY_RULES.paths, state: 'details.status' },
    };
    const r = summarize(JSON.stringify({ ...doc, entity: { label: 'acme.db-7' } }), KAFKA_TS, rules);
    expect(r.ok && r.point.tags).toMatchObject({ customer: 'acme', node: 'db-7' });
    expect(r.ok && r.point.fields.state).toBe('CPU at 97%');
  });

  it('falls back to the Kafka timestamp, flagged, when the notification has no usable time', () => {
    const r = summarize(JSON.stringify({ ...doc, details: { state: 'OK' } }), KAFKA_TS);
    expect(r.ok && r.point.time).toBe(1523317999000n * 1_000_000n);
    expect(r.ok && r.point.fields.time_fallback).toBe(true);
  });

  it('says why a message cannot be summarised', () => {
    expect(summarize(null, KAFKA_TS)).toMatchObject({ ok: false, reason: 'empty' });
    expect(summarize('{"tenantId": ', KAFKA_TS)).toMatchObject({ ok: false, reason: 'not_json' });
    expect(summarize('"text"', KAFKA_TS)).toMatchObject({ ok: false, reason: 'not_object' });
    expect(summarize(JSON.stringify({ ...doc, details: { timestamp: 1 } }), KAFKA_TS)).toMatchObject({ ok: false, reason: 'missing_state' });
  });

  it('reads the tenant from a header, as bytes or string', () => {
    expect(tenantFromHeaders({ tenantId: Buffer.from('hybrid:1') }, 'tenantId')).toBe('hybrid:1');
    expect(tenantFromHeaders({ tenantId: ['a', 'b'] }, 'tenantId')).toBe('a');
    expect(tenantFromHeaders({}, 'tenantId')).toBeUndefined();
    expect(tenantFromHeaders(undefined, 'tenantId')).toBeUndefined();
  });
});
