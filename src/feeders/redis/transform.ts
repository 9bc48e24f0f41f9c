import { NS_PER_MS, secondsToNs, type FeedPoint, type FieldValue } from '../point.js';
import type { FamilyConfig } from './config.js';

/** One Redis value → one point, or the reason it cannot be one. No I/O: the loop hands in the text and `now`. */
export type ValueResult =
  | { ok: true; point: FeedPoint; timeFallback: boolean }
  | { ok: false; reason: 'not_json' | 'not_object' | 'key_pattern_mismatch' | 'missing_field' | 'no_fields'; detail: string };

export function transformValue(family: FamilyConfig, key: string, text: string, now: bigint): ValueResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not_json', detail: `${key}: ${text.slice(0, 60)}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, reason: 'not_object', detail: `${key}: ${text.slice(0, 60)}` };
  }
  const tags = tagsFromKey(family, key);
  if (!tags) return { ok: false, reason: 'key_pattern_mismatch', detail: key };
  const record = doc as Record<string, unknown>;
  const time = timeOf(record[family.timestampField], family.timestampUnit);
  const built = family.shape === 'metric' ? metricFields(family, record, tags) : documentFields(family, record);
  if (typeof built === 'string') return { ok: false, reason: 'missing_field', detail: `${key}: ${built}` };
  if (Object.keys(built).length === 0) return { ok: false, reason: 'no_fields', detail: key };
  // A missing or unreadable source time falls back to now, flagged in a field (not a tag: it must not split series).
  if (time === undefined) built.time_fallback = true;
  return { ok: true, point: { measurement: family.measurement, tags, fields: built, time: time ?? now }, timeFallback: time === undefined };
}

function tagsFromKey(family: FamilyConfig, key: string): Record<string, string> | undefined {
  if (!family.keyPattern) return {};
  const m = family.keyPattern.exec(key);
  if (!m) return undefined;
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.groups ?? {})) if (value !== undefined && value !== '') tags[name] = value;
  return tags;
}

function timeOf(value: unknown, unit: 's' | 'ms'): bigint | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return undefined;
  if (unit === 's') return secondsToNs(n);
  return Number.isSafeInteger(n) ? BigInt(n) * NS_PER_MS : secondsToNs(n / 1000);
}

/**
 * What a member name means for a family: undefined if it is not selected, else its divisor (1: not scaled). The
 * globs are tried once per family and name, not once per key: a pass reads the same dozen names on every key.
 */
const fieldRules = new WeakMap<FamilyConfig, Map<string, number | undefined>>();
/** Names beyond this many per family (documents with made-up member names) are matched each time, not remembered. */
const MAX_REMEMBERED_NAMES = 10_000;

function fieldRule(family: FamilyConfig, name: string): number | undefined {
  let rules = fieldRules.get(family);
  if (rules === undefined) fieldRules.set(family, (rules = new Map()));
  if (rules.has(name)) return rules.get(name);
  let rule: number | undefined;
  if ((!family.include || family.include.some((re) => re.test(name))) && !family.exclude.some((re) => re.test(name))) {
    rule = family.scale.find((s) => s.pattern.test(name))?.divisor ?? 1;
  }
  if (rules.size < MAX_REMEMBERED_NAMES) rules.set(name, rule);
  return rule;
}

function scaled(family: FamilyConfig, name: string, value: number): number {
  const divisor = fieldRule(family, name) ?? 1;
  return divisor === 1 ? value : value / divisor;
}

/** Every selected member is a field: numbers (scaled) as floats, strings and booleans as they are. */
function documentFields(family: FamilyConfig, doc: Record<string, unknown>): Record<string, FieldValue> | string {
  for (const name of family.required) {
    if (typeof doc[name] !== 'number') return `lacks numeric field ${name}`;
  }
  const fields: Record<string, FieldValue> = {};
  for (const name in doc) {
    const divisor = fieldRule(family, name);
    if (divisor === undefined) continue;
    const value = doc[name];
    if (typeof value === 'number' && Number.isFinite(value)) fields[name] = divisor === 1 ? value : value / divisor;
    else if (typeof value === 'string' || typeof value === 'boolean') fields[name] = value;
  }
  return fields;
}

/** `{metric, tags, value}`: one field; `tags` is an object of tags or a plain string stored under `tagName`. */
function metricFields(family: FamilyConfig, doc: Record<string, unknown>, tags: Record<string, string>): Record<string, FieldValue> | string {
  const value = typeof doc.value === 'string' && doc.value.trim() !== '' ? Number(doc.value) : doc.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'lacks a numeric value';
  let name = family.fieldName;
  if (name === undefined) {
    if (typeof doc.metric !== 'string' || doc.metric === '') return 'lacks metric';
    name = doc.metric.replace(/[.:]/g, '_');
    if (family.stripPrefix && name.startsWith(family.stripPrefix)) name = name.slice(family.stripPrefix.length);
  }
  if (typeof doc.tags === 'string' && doc.tags !== '') tags[family.tagName] = doc.tags;
  else if (typeof doc.tags === 'object' && doc.tags !== null) {
    for (const [k, v] of Object.entries(doc.tags)) if (typeof v === 'string' || typeof v === 'number') tags[k] = String(v);
  }
  return { [name]: scaled(family, name, value) };
}
