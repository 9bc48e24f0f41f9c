import type { ConfigSection } from '../../config.js';

/**
 * A family is a set of Redis keys read the same way: which keys (SCAN patterns, possibly split in shards), which
 * measurement, which tags come from the key, which JSON members become fields and how they are scaled.
 *
 * Two value shapes exist in the building-management layout:
 * - `document`: a JSON object whose members are the fields (busplugs, IRC units, cooling, generators, status).
 * - `metric`: `{metric, tags, value, timestamp}` — one field named after `metric` (or a fixed name), tags from
 *   `tags` (an object of tags, or a plain string stored under `tagName`).
 */
export interface FamilyConfig {
  name: string;
  shape: 'document' | 'metric';
  /** SCAN MATCH patterns; each is one pass unit, so a big family split in shards never reads all its keys at once. */
  shards: string[];
  measurement: string;
  /** Named groups become tags; a key that does not match is skipped (its tags would be unknown). */
  keyPattern?: RegExp;
  include?: RegExp[];
  exclude: RegExp[];
  /** Field glob → divisor (values stored ×10 are divided by 10). First match wins. */
  scale: Array<{ pattern: RegExp; divisor: number }>;
  /** Fields that must be present; otherwise the key is skipped as `missing_field`. */
  required: string[];
  timestampField: string;
  timestampUnit: 's' | 'ms';
  /** metric shape: the tag name when `tags` is a plain string. */
  tagName: string;
  /** metric shape: a fixed field name; otherwise the field is `metric` with `.`/`:` → `_` and `stripPrefix` removed. */
  fieldName?: string;
  stripPrefix?: string;
}

export interface RedisFeederConfig {
  url: string;
  password?: string;
  intervalMs: number;
  scanCount: number;
  /** Keys per MGET, and MGETs sent per pipeline round trip. */
  mgetBatch: number;
  pipelineDepth: number;
  families: FamilyConfig[];
}

export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const ROWS = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'R8'];
const PODS = ['PA', 'PB', 'PC'];
const SKIP_BOOKKEEPING = ['mac_addr_*', 'timestamp'];

/** Defaults for the data-centre (MOC) layout; see docs/feeders.md for how to override them. */
export const DEFAULT_FAMILIES: readonly RawFamily[] = [
  {
    name: 'busplug',
    shape: 'document',
    // 24 shards like the old 24 checks (rows × pods), so one pass reads ~50 keys at a time, not 1,000.
    shards: ROWS.flatMap((r) => PODS.map((p) => `electrical:busplug:${r}-${p}-*:JSON`)),
    measurement: 'electrical_busplug',
    keyPattern: '^electrical:busplug:(?<row>R\\d+)-(?<pod>P[A-Z])-(?<rack>[^:]+):(?<plug>[^:]+):JSON$',
    exclude: SKIP_BOOKKEEPING,
    scale: {
      active_power: 10,
      apparent_power: 10,
      reactive_power: 10,
      power_factor: 1000,
      frequency: 10,
      'voltage_*': 10,
      'current_*_hires': 10,
    },
    required: ['active_power', 'power_factor'],
  },
  {
    name: 'irc',
    shape: 'document',
    shards: PODS.map((p) => `mechanical:irc:*-${p}-*:JSON`),
    measurement: 'mechanical_irc',
    keyPattern: '^mechanical:irc:(?<row>R\\d+)-(?<pod>P[A-Z])-(?<irc>IRC\\d+):JSON$',
    exclude: SKIP_BOOKKEEPING,
    scale: { '*_temp': 10 },
  },
  {
    name: 'meter',
    shape: 'metric',
    shards: ['electrical:meters:*'],
    measurement: 'electrical_meter',
    stripPrefix: 'electrical_meter_',
  },
  { name: 'makeup', shape: 'metric', shards: ['mechanical:makeup:*'], measurement: 'mechanical_makeup', fieldName: 'value' },
  { name: 'airhand', shape: 'metric', shards: ['mechanical:airhand:*'], measurement: 'mechanical_airhand', fieldName: 'value' },
  {
    name: 'cooling',
    shape: 'document',
    shards: ['mechanical:cooling:*:JSON'],
    measurement: 'mechanical_cooling',
    keyPattern: '^mechanical:cooling:(?<device>[^:]+):JSON$',
    exclude: SKIP_BOOKKEEPING,
  },
  {
    name: 'generator',
    shape: 'document',
    shards: ['electrical:generator:*:JSON'],
    measurement: 'electrical_generator',
    keyPattern: '^electrical:generator:(?<device>[^:]+):JSON$',
    exclude: SKIP_BOOKKEEPING,
  },
  {
    name: 'collector',
    shape: 'document',
    shards: ['status:*'],
    measurement: 'collector_status',
    keyPattern: '^status:(?<collector>[^:]+)(:JSON)?$',
    exclude: SKIP_BOOKKEEPING,
  },
];

/** The YAML form of a family (also the form of the defaults). */
export interface RawFamily {
  name: string;
  shape?: 'document' | 'metric';
  match?: string;
  shards?: string[];
  measurement: string;
  keyPattern?: string;
  include?: string[];
  exclude?: string[];
  scale?: Record<string, number>;
  required?: string[];
  timestampField?: string;
  timestampUnit?: 's' | 'ms';
  tagName?: string;
  fieldName?: string;
  stripPrefix?: string;
}

export function readRedisConfig(root: ConfigSection): RedisFeederConfig {
  const redis = root.section('redis');
  const families = root.sections('families')?.map(readFamily) ?? DEFAULT_FAMILIES.map((f, i) => compileFamily(f, `default families[${i}]`));
  const names = new Set<string>();
  for (const f of families) {
    if (names.has(f.name)) throw root.error('families', `family name ${f.name} appears twice`);
    names.add(f.name);
  }
  return {
    url: redisUrl(redis),
    password: redis.secret('password', 'REDIS_PASSWORD'),
    intervalMs: root.durationMs('interval', 60_000),
    scanCount: root.number('scanCount', 1000, { min: 1, integer: true }),
    mgetBatch: root.number('mgetBatch', 100, { min: 1, integer: true }),
    pipelineDepth: root.number('pipelineDepth', 8, { min: 1, integer: true }),
    families,
  };
}

function redisUrl(redis: ConfigSection): string {
  const url = redis.string('url', 'redis://127.0.0.1:6379/0');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^rediss?:$/.test(parsed.protocol) || parsed.hostname === '') {
    // Never echo a URL that may hold a password.
    const shown = parsed?.password ? '(a URL with a password)' : JSON.stringify(url);
    throw redis.error('url', `expected redis://host:port/db or rediss://… (env REDIS_URL sets it), got ${shown}`);
  }
  return url;
}

function readFamily(s: ConfigSection): FamilyConfig {
  const scaleSection = s.section('scale');
  const scale: Record<string, number> = {};
  for (const key of Object.keys(scaleSection.data)) {
    scale[key] = scaleSection.number(key, 1);
    if (scale[key] === 0) throw scaleSection.error(key, 'a divisor cannot be 0');
  }
  const match = s.string('match');
  const shards = s.stringList('shards') ?? (match !== undefined ? [match] : undefined);
  if (!shards || shards.length === 0) throw s.error('match', 'give match (a SCAN pattern) or shards (a list of them)');
  // Checked here so a bad pattern is a ConfigError naming the key and the file.
  s.regex('keyPattern');
  const raw: RawFamily = {
    name: s.requireString('name'),
    shape: s.oneOf('shape', ['document', 'metric'] as const, 'document'),
    shards,
    measurement: s.requireString('measurement'),
    keyPattern: s.string('keyPattern'),
    include: s.stringList('include'),
    exclude: s.stringList('exclude') ?? SKIP_BOOKKEEPING,
    scale,
    required: s.stringList('required'),
    timestampField: s.string('timestampField'),
    timestampUnit: s.oneOf('timestampUnit', ['s', 'ms'] as const, 's'),
    tagName: s.string('tagName'),
    fieldName: s.string('fieldName'),
    stripPrefix: s.string('stripPrefix'),
  };
  return compileFamily(raw, s.path);
}

export function compileFamily(raw: RawFamily, where: string): FamilyConfig {
  let keyPattern: RegExp | undefined;
  try {
    keyPattern = raw.keyPattern === undefined ? undefined : new RegExp(raw.keyPattern);
  } catch (err) {
    throw new Error(`${where}: keyPattern: ${(err as Error).message}`);
  }
  return {
    name: raw.name,
    shape: raw.shape ?? 'document',
    shards: raw.shards ?? (raw.match ? [raw.match] : []),
    measurement: raw.measurement,
    keyPattern,
    include: raw.include?.map(globToRegExp),
    exclude: (raw.exclude ?? []).map(globToRegExp),
    scale: Object.entries(raw.scale ?? {}).map(([glob, divisor]) => ({ pattern: globToRegExp(glob), divisor })),
    required: raw.required ?? [],
    timestampField: raw.timestampField ?? 'timestamp',
    timestampUnit: raw.timestampUnit ?? 's',
    tagName: raw.tagName ?? 'device',
    fieldName: raw.fieldName,
    stripPrefix: raw.stripPrefix,
  };
}
