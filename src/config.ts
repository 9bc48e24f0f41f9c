import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from './duration.js';
import { ConfigError } from './errors.js';
import { nearestKey } from './nearest-key.js';

/**
 * Config files are YAML; a few well-known environment variables override keys (so a container can point a feeder at
 * another InfluxDB without a new file). Every read goes through a `ConfigSection`, which knows the dotted key path and
 * the file, so each mistake becomes a ConfigError naming both.
 */

/** Environment variable → dotted config key. Secrets are not here: they are read by `secret()` from env or files. */
export const ENV_OVERRIDES: Readonly<Record<string, string>> = {
  INFLUXDB_URL: 'influxdb.url',
  INFLUXDB_ORG: 'influxdb.org',
  INFLUXDB_BUCKET: 'influxdb.bucket',
  INFLUXDB_DATABASE: 'influxdb.database',
  INFLUXDB_RETENTION_POLICY: 'influxdb.retentionPolicy',
  INFLUXDB_USERNAME: 'influxdb.username',
  REDIS_URL: 'redis.url',
  KAFKA_BROKERS: 'kafka.brokers',
  KAFKA_TOPIC: 'kafka.topic',
  KAFKA_GROUP_ID: 'kafka.groupId',
};

export interface LoadedConfig {
  root: ConfigSection;
  /** The file path, or `env` for values that came only from the environment. */
  source: string;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', path, `cannot read config file: ${fsReason(err)}`);
  }
  return parseConfigText(text, path, env);
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError('(file)', source, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isPlainObject(data)) throw new ConfigError('(root)', source, 'the file must hold a mapping of keys');
  const keys = new KeyLedger();
  substituteEnv(data, '', source, env, keys);
  applyEnvOverrides(data, env, keys);
  return { root: new ConfigSection(data, '', source, env, keys), source };
}

/** `ENOENT: no such file or directory, open 'x'` → `no such file or directory (ENOENT)`: the path is named by the caller. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && typeof e.message === 'string') {
    const text = e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    return `${text} (${e.code})`;
  }
  return (err as Error)?.message ?? String(err);
}

/**
 * What the readers asked for, per mapping: a key present in the file that no reader asked about is a typo or a
 * misplaced key, reported by `checkKnownKeys`. Keys placed by environment overrides are exempt (one environment
 * serves several commands), and a mapping read as free-form (template vars) is not checked.
 */
class KeyLedger {
  readonly asked = new WeakMap<object, Set<string>>();
  /** Every key path a reader asked for, lists as `[]`: what the documentation must cover. */
  readonly askedPaths = new Set<string>();
  readonly freeForm = new WeakSet<object>();
  readonly fromEnv = new WeakMap<object, Set<string>>();
  /** Keys whose whole value was one `${VAR}` reference: a secret given that way never sat in the file. */
  readonly envReference = new WeakMap<object, Set<string>>();

  static add(map: WeakMap<object, Set<string>>, node: object, key: string): void {
    let set = map.get(node);
    if (!set) map.set(node, (set = new Set()));
    set.add(key);
  }
}

const ENV_REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g;

/**
 * `${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}` (default when unset) in string values,
 * as Telegraf does; `$${` is a literal `${`. A variable that is unset with no default is an error naming the key.
 */
function substituteEnv(node: Record<string, unknown> | unknown[], path: string, source: string, env: NodeJS.ProcessEnv, keys: KeyLedger): void {
  const entries: Array<[string | number, unknown]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  for (const [key, value] of entries) {
    const keyPath = typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (typeof value === 'string') {
      if (!value.includes('$')) continue;
      const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value);
      const replaced = value.replace(ENV_REFERENCE, (match, name: string | undefined, op: string | undefined, fallback: string | undefined) => {
        if (name === undefined) return '${';
        const v = env[name];
        if (op === ':-' && (v === undefined || v === '')) return fallback ?? '';
        if (op === '-' && v === undefined) return fallback ?? '';
        if (v === undefined) {
          throw new ConfigError(keyPath, source, `environment variable ${name} is not set: set it, or give a default as \${${name}:-value}`);
        }
        return v;
      });
      (node as Record<string | number, unknown>)[key] = replaced;
      if (whole && typeof key === 'string') KeyLedger.add(keys.envReference, node, key);
    } else if (typeof value === 'object' && value !== null) {
      substituteEnv(value as Record<string, unknown>, keyPath, source, env, keys);
    }
  }
}

function applyEnvOverrides(data: Record<string, unknown>, env: NodeJS.ProcessEnv, keys: KeyLedger): void {
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parts = key.split('.');
    let node = data;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(node[part])) {
        node[part] = {};
        KeyLedger.add(keys.fromEnv, node, part);
      }
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
    KeyLedger.add(keys.fromEnv, node, parts[parts.length - 1]);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A duration literal as TICKscript writes it (`250ms`, `10s`, `1m30s`, `1h`). A bare number has no unit and is
 * refused (Telegraf users write `60` for seconds, others mean milliseconds): only `0` needs none.
 */
export function parseDurationMs(value: unknown): number | undefined {
  if (value === 0 || value === '0') return 0;
  if (typeof value !== 'string') return undefined;
  try {
    return Number(parseDuration(value) / 1_000_000n);
  } catch {
    return undefined;
  }
}

function durationProblem(v: unknown): string {
  const bare = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : undefined;
  if (bare !== undefined) return `a duration needs a unit: write ${bare}s for seconds (or ${bare}ms, ${bare}m), got ${JSON.stringify(v)}`;
  return `expected a duration like 500ms, 10s, 5m or 1h, got ${JSON.stringify(v)}`;
}

/**
 * Top-level sections any command accepts without reading them: one file may serve `influx setup`, `kapacitor sync` and
 * a feeder. A command that does read one checks it fully.
 */
export const SHARED_SECTIONS: readonly string[] = ['influxdb', 'influxSetup', 'kapacitor'];

/** A view on one mapping of the config, with typed readers that fail with the full key path. */
export class ConfigSection {
  constructor(
    readonly data: Record<string, unknown>,
    readonly path: string,
    readonly source: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly keys: KeyLedger = new KeyLedger(),
  ) {}

  /** The raw value, recording that a reader knows `key`. */
  private value(key: string): unknown {
    KeyLedger.add(this.keys.asked, this.data, key);
    this.keys.askedPaths.add(this.keyPath(key).replace(/\[\d+\]/g, '[]'));
    return this.data[key];
  }

  keyPath(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /**
   * An error about `key`. When the key is absent and a key no reader asked for is near it, that is most likely the
   * cause (`databses` for `databases`): the message says so, since the unknown-key check runs only after the readers.
   */
  error(key: string, message: string): ConfigError {
    if (this.data[key] === undefined) {
      const asked = this.keys.asked.get(this.data);
      const strays = Object.keys(this.data).filter((k) => k !== key && !asked?.has(k));
      const typo = nearestKey(key, strays);
      if (typo !== undefined) message += ` (the file has ${typo}: a typo of ${key}?)`;
    }
    return new ConfigError(this.keyPath(key), this.source, message);
  }

  has(key: string): boolean {
    const v = this.value(key);
    return v !== undefined && v !== null;
  }

  section(key: string): ConfigSection {
    const v = this.value(key);
    if (v === undefined || v === null) return new ConfigSection({}, this.keyPath(key), this.source, this.env, this.keys);
    if (!isPlainObject(v)) throw this.error(key, `expected a mapping, got ${JSON.stringify(v)}`);
    KeyLedger.add(this.keys.asked, v, '');
    return new ConfigSection(v, this.keyPath(key), this.source, this.env, this.keys);
  }

  /** A mapping whose keys are the user's own (template vars): returned as is, never checked for unknown keys. */
  freeForm(): Record<string, unknown> {
    this.keys.freeForm.add(this.data);
    return this.data;
  }

  sections(key: string): ConfigSection[] | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw this.error(key, 'expected a list of mappings');
    return v.map((item, i) => {
      if (!isPlainObject(item)) throw this.error(`${key}[${i}]`, 'expected a mapping');
      KeyLedger.add(this.keys.asked, item, '');
      return new ConfigSection(item, this.keyPath(`${key}[${i}]`), this.source, this.env, this.keys);
    });
  }

  string(key: string): string | undefined;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') throw this.error(key, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  requireString(key: string): string {
    const v = this.string(key);
    if (v === undefined || v === '') throw this.error(key, 'is required');
    return v;
  }

  number(key: string, fallback: number, opts: { min?: number; integer?: boolean } = {}): number {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw this.error(key, `expected a number, got ${JSON.stringify(v)}`);
    if (opts.integer && !Number.isInteger(n)) throw this.error(key, `expected an integer, got ${n}`);
    if (opts.min !== undefined && n < opts.min) throw this.error(key, `must be >= ${opts.min}, got ${n}`);
    return n;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    throw this.error(key, `expected true or false, got ${JSON.stringify(v)}`);
  }

  durationMs(key: string, fallback: number): number {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    const ms = parseDurationMs(v);
    if (ms === undefined) throw this.error(key, durationProblem(v));
    return ms;
  }

  /** A list of strings; a comma-separated string is accepted too (that is how env overrides arrive). */
  stringList(key: string): string[] | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string')
      return v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' || typeof s === 'number')) {
      throw this.error(key, 'expected a list of strings');
    }
    return v.map(String);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(v)) throw this.error(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  regex(key: string, fallback?: string): RegExp | undefined {
    const text = this.string(key) ?? fallback;
    if (text === undefined) return undefined;
    try {
      return new RegExp(text);
    } catch (err) {
      throw this.error(key, `not a valid regular expression: ${(err as Error).message}`);
    }
  }

  /**
   * A secret never sits in the config file itself: `<key>Env` names an environment variable, `<key>File` a file whose
   * first line is the secret, or the key's whole value is one `${VAR}` reference. `envDefault` is a variable consulted
   * when none is given.
   */
  secret(key: string, envDefault?: string): string | undefined {
    if (this.has(key)) {
      if (this.keys.envReference.get(this.data)?.has(key)) return this.string(key);
      throw this.error(key, `secrets are not read from the config file: use ${key}Env (a variable name), ${key}File (a path) or \${VARIABLE}`);
    }
    const envName = this.string(`${key}Env`);
    if (envName !== undefined) {
      const value = this.env[envName];
      if (value === undefined) throw this.error(`${key}Env`, `environment variable ${envName} is not set`);
      return value;
    }
    const file = this.string(`${key}File`);
    if (file !== undefined) {
      try {
        return readFileSync(file, 'utf8').split(/\r?\n/)[0];
      } catch (err) {
        throw this.error(`${key}File`, `cannot read ${file}: ${fsReason(err)}`);
      }
    }
    if (envDefault !== undefined && this.env[envDefault] !== undefined) return this.env[envDefault];
    return undefined;
  }

  /** Reads a file named by `key` (TLS material, SSH keys): returns its bytes, or undefined when the key is absent. */
  file(key: string): Buffer | undefined {
    const path = this.string(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw this.error(key, `cannot read ${path}: ${fsReason(err)}`);
    }
  }

  /** The key paths the readers asked for so far (`families[].name`), present in the file or not. */
  knownKeyPaths(): string[] {
    return [...this.keys.askedPaths].sort();
  }

  /**
   * After the readers ran: every key in the file that no reader asked for, all at once, each with the nearest known
   * key (or the list of known ones). A mapping no reader opened is not checked, except the root.
   */
  checkKnownKeys(shared: readonly string[] = SHARED_SECTIONS): void {
    const problems: ConfigError[] = [];
    const visit = (node: Record<string, unknown>, path: string, extra: readonly string[]): void => {
      if (this.keys.freeForm.has(node)) return;
      const asked = this.keys.asked.get(node);
      if (!asked && path !== this.path) return;
      const known = [...(asked ?? [])].filter((k) => k !== '').concat(extra);
      const env = this.keys.fromEnv.get(node);
      for (const [key, value] of Object.entries(node)) {
        const keyPath = path ? `${path}.${key}` : key;
        if (!known.includes(key)) {
          if (env?.has(key)) continue;
          const near = nearestKey(key, known);
          const hint = near !== undefined ? `did you mean ${near}?` : known.length ? `known keys here: ${known.sort().join(', ')}` : 'nothing is read here';
          problems.push(new ConfigError(keyPath, this.source, `unknown key: ${hint}`));
          continue;
        }
        if (isPlainObject(value)) visit(value, keyPath, []);
        else if (Array.isArray(value)) value.forEach((item, i) => isPlainObject(item) && visit(item, `${keyPath}[${i}]`, []));
      }
    };
    visit(this.data, this.path, shared);
    if (problems.length > 0) throw ConfigError.all(problems);
  }
}
