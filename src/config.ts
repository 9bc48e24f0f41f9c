import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from './duration.js';
import { ConfigError } from './errors.js';

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
    throw new ConfigError('(file)', path, `cannot read config file: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, env);
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError('(file)', source, `not valid YAML: ${(err as Error).message}`);
  }
  if (!isPlainObject(data)) throw new ConfigError('(root)', source, 'the file must hold a mapping of keys');
  applyEnvOverrides(data, env);
  return { root: new ConfigSection(data, '', source, env), source };
}

function applyEnvOverrides(data: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parts = key.split('.');
    let node = data;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A duration literal as TICKscript writes it (`250ms`, `10s`, `1m30s`, `1h`), or a bare number of milliseconds. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') return undefined;
  try {
    return Number(parseDuration(value) / 1_000_000n);
  } catch {
    return undefined;
  }
}

/** A view on one mapping of the config, with typed readers that fail with the full key path. */
export class ConfigSection {
  constructor(
    readonly data: Record<string, unknown>,
    readonly path: string,
    readonly source: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  keyPath(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  error(key: string, message: string): ConfigError {
    return new ConfigError(this.keyPath(key), this.source, message);
  }

  has(key: string): boolean {
    return this.data[key] !== undefined && this.data[key] !== null;
  }

  section(key: string): ConfigSection {
    const v = this.data[key];
    if (v === undefined || v === null) return new ConfigSection({}, this.keyPath(key), this.source, this.env);
    if (!isPlainObject(v)) throw this.error(key, `expected a mapping, got ${JSON.stringify(v)}`);
    return new ConfigSection(v, this.keyPath(key), this.source, this.env);
  }

  sections(key: string): ConfigSection[] | undefined {
    const v = this.data[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw this.error(key, 'expected a list of mappings');
    return v.map((item, i) => {
      if (!isPlainObject(item)) throw this.error(`${key}[${i}]`, 'expected a mapping');
      return new ConfigSection(item, this.keyPath(`${key}[${i}]`), this.source, this.env);
    });
  }

  string(key: string): string | undefined;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string | undefined {
    const v = this.data[key];
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
    const v = this.data[key];
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw this.error(key, `expected a number, got ${JSON.stringify(v)}`);
    if (opts.integer && !Number.isInteger(n)) throw this.error(key, `expected an integer, got ${n}`);
    if (opts.min !== undefined && n < opts.min) throw this.error(key, `must be >= ${opts.min}, got ${n}`);
    return n;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.data[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    throw this.error(key, `expected true or false, got ${JSON.stringify(v)}`);
  }

  durationMs(key: string, fallback: number): number {
    const v = this.data[key];
    if (v === undefined || v === null) return fallback;
    const ms = parseDurationMs(v);
    if (ms === undefined) throw this.error(key, `expected a duration like 500ms, 10s, 5m or 1h, got ${JSON.stringify(v)}`);
    return ms;
  }

  /** A list of strings; a comma-separated string is accepted too (that is how env overrides arrive). */
  stringList(key: string): string[] | undefined {
    const v = this.data[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
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
   * first line is the secret. `envDefault` is a variable consulted when neither is given.
   */
  secret(key: string, envDefault?: string): string | undefined {
    if (this.has(key)) {
      throw this.error(key, `secrets are not read from the config file: use ${key}Env (a variable name) or ${key}File (a path)`);
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
        throw this.error(`${key}File`, `cannot read ${file}: ${(err as Error).message}`);
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
      throw this.error(key, `cannot read ${path}: ${(err as Error).message}`);
    }
  }
}
