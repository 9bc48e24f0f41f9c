import type { KafkaMessage } from 'kafkajs';
import { NS_PER_MS, type FeedPoint, type FieldValue } from '../point.js';

/**
 * A monitoring notification → one terse summary point. Provenance: time (`details.timestamp`, epoch ms, UTC), tenant,
 * and what the entity label says (environment, node, …: the named groups of `labelPattern`). Content: check and alarm
 * labels (text before the first `--`) and the state. A label that does not match is tagged `label_parse=failed`
 * rather than guessed at.
 */
export interface SummaryRules {
  measurement: string;
  paths: {
    time: string;
    tenant: string;
    entityLabel: string;
    checkLabel: string;
    alarmLabel: string;
    state: string;
    status: string;
  };
  labelPattern: RegExp;
  labelSeparator: string;
}

export const DEFAULT_SUMMARY_RULES: SummaryRules = {
  measurement: 'maas_notification',
  paths: {
    time: 'details.timestamp',
    tenant: 'tenantId',
    entityLabel: 'entity.label',
    checkLabel: 'check.label',
    alarmLabel: 'alarm.label',
    state: 'details.state',
    status: 'details.status',
  },
  // `web01-prod-a2.somecust`: node before the first dash, environment up to the dot, customer after it.
  labelPattern: /^(?<node>[^-.]+)-(?<environment>[^.]+)\.(?<customer>.+)$/,
  labelSeparator: '--',
};

export type SummaryResult =
  | { ok: true; point: FeedPoint; tenant: string | undefined; labelParsed: boolean; timeFallback: boolean }
  | { ok: false; reason: 'empty' | 'not_json' | 'not_object' | 'missing_state'; detail: string };

export function pathGet(doc: unknown, path: string): unknown {
  let node = doc;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function beforeSeparator(label: string | undefined, sep: string): string | undefined {
  if (label === undefined) return undefined;
  const i = label.indexOf(sep);
  return (i < 0 ? label : label.slice(0, i)).trim() || undefined;
}

/**
 * `value` is the raw message value; `messageTimestampMs` is Kafka's own timestamp (a decimal string), used, and
 * flagged with `time_fallback=true`, when the notification carries no usable time: it is stable across replays, so
 * the point stays idempotent.
 */
export function summarize(value: Buffer | string | null, messageTimestampMs: string, rules: SummaryRules = DEFAULT_SUMMARY_RULES): SummaryResult {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty', detail: 'no value' };
  const raw = typeof value === 'string' ? value : value.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    return { ok: false, reason: 'not_json', detail: (err as Error).message };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, reason: 'not_object', detail: raw.slice(0, 60) };
  const state = text(pathGet(doc, rules.paths.state));
  if (state === undefined) return { ok: false, reason: 'missing_state', detail: `no ${rules.paths.state}` };

  const tags: Record<string, string> = {};
  const tenant = text(pathGet(doc, rules.paths.tenant));
  if (tenant) tags.tenant = tenant;
  const entity = text(pathGet(doc, rules.paths.entityLabel));
  const m = entity === undefined ? null : rules.labelPattern.exec(entity);
  if (m) {
    for (const [k, v] of Object.entries(m.groups ?? {})) if (v) tags[k] = v;
  } else {
    tags.label_parse = 'failed';
  }
  const check = beforeSeparator(text(pathGet(doc, rules.paths.checkLabel)), rules.labelSeparator);
  const alarm = beforeSeparator(text(pathGet(doc, rules.paths.alarmLabel)), rules.labelSeparator);
  if (check) tags.check = check;
  if (alarm) tags.alarm = alarm;

  const fields: Record<string, FieldValue> = { state };
  const status = text(pathGet(doc, rules.paths.status));
  if (status) fields.status = status;
  if (entity) fields.entity = entity;

  const ms = pathGet(doc, rules.paths.time);
  let time: bigint;
  let timeFallback = false;
  if (typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0) time = BigInt(ms) * NS_PER_MS;
  else if (typeof ms === 'string' && /^\d{1,16}$/.test(ms)) time = BigInt(ms) * NS_PER_MS;
  else {
    time = BigInt(messageTimestampMs) * NS_PER_MS;
    timeFallback = true;
    fields.time_fallback = true;
  }
  return { ok: true, point: { measurement: rules.measurement, tags, fields, time }, tenant, labelParsed: m !== null, timeFallback };
}

/** The tenant named in a header, without parsing the value; undefined when the header is absent. */
export function tenantFromHeaders(headers: Record<string, unknown> | undefined, header: string): string | undefined {
  const v = headers?.[header];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/** A chunk of messages sorted: points to write, messages for the dead-letter topic, and how many were filtered. */
export interface Classified {
  points: Array<{ point: FeedPoint; message: KafkaMessage }>;
  deadLetters: Array<{ message: KafkaMessage; reason: string }>;
  filtered: number;
}

export interface ClassifyRules {
  /** Allowed tenants; empty means all. */
  tenants: string[];
  tenantHeader: string;
  rules: SummaryRules;
}

/** Where per-message problems are told (the feeder's ProblemLog), to be logged once per batch. */
export interface Problems {
  add(reason: string, example: string, outcome?: 'skipped' | 'written'): void;
}

/** The tenant header decides before the value is parsed; without it, the parsed tenant does. */
export function classify(messages: KafkaMessage[], rules: ClassifyRules, problems: Problems): Classified {
  const out: Classified = { points: [], deadLetters: [], filtered: 0 };
  const allowed = rules.tenants;
  for (const message of messages) {
    const headerTenant = tenantFromHeaders(message.headers, rules.tenantHeader);
    if (allowed.length > 0 && headerTenant !== undefined && !allowed.includes(headerTenant)) {
      out.filtered++;
      continue;
    }
    const r = summarize(message.value, message.timestamp, rules.rules);
    if (!r.ok) {
      out.deadLetters.push({ message, reason: `${r.reason}: ${r.detail}` });
      problems.add(r.reason, `offset ${message.offset}: ${r.detail}`);
      continue;
    }
    if (allowed.length > 0 && headerTenant === undefined && (r.tenant === undefined || !allowed.includes(r.tenant))) {
      out.filtered++;
      continue;
    }
    if (!r.labelParsed) problems.add('entity label did not match labelPattern (tagged label_parse=failed)', `offset ${message.offset}`, 'written');
    out.points.push({ point: r.point, message });
  }
  return out;
}
