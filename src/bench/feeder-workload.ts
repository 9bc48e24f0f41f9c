/**
 * What `npm run bench:feeders` feeds: UMB-shaped monitoring notifications for the Kafka feeder and a scaled MOC
 * building-management Redis for the Redis feeder. Pure data; each item says what the feeder should make of it, so the
 * benchmark checks counts rather than trusting them.
 */
import { generateMoc, type GeneratedKey } from '../feeders/redis/generator.js';

export const BENCH_TENANT = 'hybrid:4958307';
const OTHER_TENANT = 'hybrid:1000001';
const T0 = 1_523_317_852_949;

export type MessageKind = 'valid' | 'filtered' | 'unparsable';

export interface BenchMessage {
  partition: number;
  key: string;
  value: string;
  headers: Record<string, string>;
  kind: MessageKind;
}

export interface MessageMix {
  /** One message in `filteredEvery` is another tenant's (named in its header and its body). */
  filteredEvery: number;
  /** One message in `unparsableEvery` is cut short (not JSON): a dead letter. */
  unparsableEvery: number;
}

export const DEFAULT_MIX: MessageMix = { filteredEvery: 5, unparsableEvery: 10_000 };

/**
 * Message `i` of the topic: the fields the summary reads (tenant, entity/check/alarm labels, details.timestamp/state/
 * status) plus the bulk a real MaaS notification carries around them (ids, metrics, observations, metadata), about
 * 1 KB. `details.timestamp` is T0 + i ms, so every valid message is a distinct point.
 */
export function benchMessage(i: number, partitions: number, mix: MessageMix = DEFAULT_MIX): BenchMessage {
  const n = i % 40;
  const node = `web${String(n).padStart(2, '0')}`;
  const kind: MessageKind = i % mix.unparsableEvery === mix.unparsableEvery - 1 ? 'unparsable' : i % mix.filteredEvery === 1 ? 'filtered' : 'valid';
  const tenant = kind === 'filtered' ? OTHER_TENANT : BENCH_TENANT;
  const state = i % 7 === 0 ? 'OK' : 'CRITICAL';
  const doc = {
    event_id: `${tenant}:en${n}ab${n}:ch${i % 97}:al${i % 31}:${T0 + i}:${state}`,
    log_entry_id: `${(T0 + i).toString(16)}-${i.toString(36)}`,
    tenantId: tenant,
    entity: {
      id: `en${n}ab${n}`,
      label: `${node}-prod-a${i % 3}.somecust`,
      ip_addresses: { private0_v4: `10.0.${n}.${i % 250}`, public0_v4: `203.0.113.${n}` },
      metadata: { owner: 'ops', rack: `R${n % 8}` },
      managed: false,
      uri: `https://servers.api.example.com/${tenant}/servers/${n}`,
    },
    check: {
      id: `ch${i % 97}`,
      label: `cpu_usage--${node}`,
      type: 'agent.cpu',
      details: {},
      monitoring_zones_poll: [],
      timeout: 30,
      period: 60,
      target_alias: null,
      disabled: false,
    },
    alarm: {
      id: `al${i % 31}`,
      label: `CPU high--${node}`,
      check_id: `ch${i % 97}`,
      criteria: "if (metric['usage_average'] > 90) { return new AlarmStatus(CRITICAL, 'CPU at #{usage_average}%'); }",
      disabled: false,
      notification_plan_id: 'npTechnicalContactsEmail',
    },
    details: {
      target: null,
      timestamp: T0 + i,
      metrics: {
        usage_average: { type: 'D', data: 50 + (i % 50) + 0.25, unit: 'percent' },
        max_cpu_usage: { type: 'D', data: 99.5, unit: 'percent' },
      },
      state,
      status: `CPU at ${50 + (i % 50)}%`,
      txn_id: `.rh-${i.toString(36)}.h-${node}.r-${(i * 7919).toString(36)}`,
      collector_address_v4: '127.0.0.1',
      observations: [{ monitoring_zone_id: null, state, status: `CPU at ${50 + (i % 50)}%`, timestamp: T0 + i - 1000, collectorState: 'UP' }],
    },
  };
  const json = JSON.stringify(doc);
  return {
    partition: i % partitions,
    key: `en${n}ab${n}`,
    value: kind === 'unparsable' ? json.slice(0, json.length >> 1) : json,
    headers: { tenantId: tenant },
    kind,
  };
}

export function expectedKafkaCounts(total: number, mix: MessageMix = DEFAULT_MIX): Record<MessageKind, number> {
  const counts: Record<MessageKind, number> = { valid: 0, filtered: 0, unparsable: 0 };
  for (let i = 0; i < total; i++) {
    const kind: MessageKind = i % mix.unparsableEvery === mix.unparsableEvery - 1 ? 'unparsable' : i % mix.filteredEvery === 1 ? 'filtered' : 'valid';
    counts[kind]++;
  }
  return counts;
}

/**
 * The synthetic MOC (~1,350 keys) copied `copies` times, each copy a building of its own: rack, IRC unit, device and
 * collector names get the copy's number in a form the default families' key patterns still read, so every copy is read
 * and transformed exactly as the original is.
 */
export function scaledMoc(copies: number, timestamp = 1_468_249_200): GeneratedKey[] {
  const out: GeneratedKey[] = [];
  for (let c = 0; c < copies; c++) {
    for (const k of generateMoc({ seed: 42 + c, timestamp })) out.push({ ...k, key: renameForCopy(k.key, c) });
  }
  return out;
}

function renameForCopy(key: string, c: number): string {
  const busplug = /^(electrical:busplug:R\d+-P[A-Z]-)([^:]+)(:.*)$/.exec(key);
  if (busplug) return `${busplug[1]}${busplug[2]}.${c}${busplug[3]}`;
  const irc = /^(mechanical:irc:R\d+-P[A-Z]-IRC)(\d+)(:JSON)$/.exec(key);
  if (irc) return `${irc[1]}${irc[2]}${String(c).padStart(4, '0')}${irc[3]}`;
  const device = /^((?:electrical:meters|electrical:generator|mechanical:makeup|mechanical:airhand|mechanical:cooling):)([^:]+)(.*)$/.exec(key);
  if (device) return `${device[1]}${device[2]}.${c}${device[3]}`;
  const status = /^(status:)([^:]+)(.*)$/.exec(key);
  if (status) return `${status[1]}${status[2]}.${c}${status[3]}`;
  throw new Error(`scaledMoc: no copy rule for key ${key}`);
}

/** Keys whose value a default family turns into a point (the rest are skipped and counted by reason). */
export function expectedRedisPoints(keys: GeneratedKey[]): number {
  return keys.filter((k) => k.kind === 'valid' || k.kind === 'no_timestamp').length;
}
