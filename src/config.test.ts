import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText, parseDurationMs } from './config.js';
import { nearestKey } from './nearest-key.js';
import { ConfigError } from './errors.js';

function catchError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config files', () => {
  it('lets the environment override InfluxDB keys', () => {
    const { root } = parseConfigText('influxdb:\n  url: http://a:1\n  database: x\n', 'f.yaml', {
      INFLUXDB_URL: 'http://b:2',
      INFLUXDB_RETENTION_POLICY: 'autogen',
    });
    const s = root.section('influxdb');
    expect(s.string('url')).toBe('http://b:2');
    expect(s.string('database')).toBe('x');
    expect(s.string('retentionPolicy')).toBe('autogen');
  });

  it('names the key path and the file in every error', () => {
    const { root } = parseConfigText('kafka:\n  brokers: 3\nrouters:\n  - host: 1\n    port: abc\n', 'feed.yaml', {});
    const e = catchError(() => root.sections('routers')![0].number('port', 22));
    expect(e.key).toBe('routers[0].port');
    expect(e.source).toBe('feed.yaml');
    expect(e.message).toContain('feed.yaml: routers[0].port');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(catchError(() => root.section('kafka').stringList('brokers')).key).toBe('kafka.brokers');
  });

  it('refuses secrets written in the file and reads them from env or a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    const { root } = parseConfigText(`a:\n  token: plain\nb:\n  passwordFile: ${join(dir, 'pw')}\nc:\n  passwordEnv: PW\nd:\n  passwordEnv: NOPE\n`, 'f.yaml', {
      PW: 'fromenv',
    });
    expect(catchError(() => root.section('a').secret('token')).key).toBe('a.token');
    expect(root.section('b').secret('password')).toBe('s3cret');
    expect(root.section('c').secret('password')).toBe('fromenv');
    expect(catchError(() => root.section('d').secret('password')).message).toContain('NOPE is not set');
  });

  it('reports an unreadable file and bad YAML as config errors', () => {
    expect(catchError(() => loadConfigFile('/nonexistent/feed.yaml')).source).toBe('/nonexistent/feed.yaml');
    expect(catchError(() => parseConfigText('a: [1,', 'bad.yaml', {})).source).toBe('bad.yaml');
    expect(catchError(() => parseConfigText('- 1\n- 2\n', 'list.yaml', {})).key).toBe('(root)');
  });

  it('parses durations and refuses a bare number, showing the value with a unit', () => {
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs(0)).toBe(0);
    expect(parseDurationMs(1500)).toBeUndefined();
    expect(parseDurationMs('soon')).toBeUndefined();
    const { root } = parseConfigText('interval: 60\ntimeout: "5"\nwait: soon\n', 'f.yaml', {});
    expect(catchError(() => root.durationMs('interval', 1)).message).toBe(
      'f.yaml: interval: a duration needs a unit: write 60s for seconds (or 60ms, 60m), got 60',
    );
    expect(catchError(() => root.durationMs('timeout', 1)).message).toContain('write 5s');
    expect(catchError(() => root.durationMs('wait', 1)).message).toContain('like 500ms, 10s');
  });
});

describe('unknown keys', () => {
  const read = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    const { root } = parseConfigText(yaml, 'feed.yaml', env);
    const redis = root.section('redis');
    redis.string('url');
    redis.secret('password');
    root.durationMs('interval', 1000);
    root.sections('families')?.forEach((f) => f.string('name'));
    return root;
  };

  it('names every unknown key at once, each with the nearest known key', () => {
    const e = catchError(() => read('intervall: 1m\nredis:\n  urll: redis://x\n  hots: a\nfamilies:\n  - name: a\n    nmae: b\n').checkKnownKeys());
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      'feed.yaml: intervall: unknown key: did you mean interval?; redis.urll: unknown key: did you mean url?; ' +
        'redis.hots: unknown key: known keys here: password, passwordEnv, passwordFile, url; families[0].nmae: unknown key: did you mean name?',
    );
    expect(e.message).not.toContain('\n');
  });

  it('accepts what the readers know, sections other commands read, and keys placed by env overrides', () => {
    const root = read('interval: 1m\nredis: { url: redis://x }\ninfluxSetup: { anything: 1 }\nkapacitor: { sync: {} }\n', {
      KAFKA_BROKERS: 'a:1',
      INFLUXDB_URL: 'http://i:1',
    });
    expect(() => root.checkKnownKeys()).not.toThrow();
  });

  it('leaves a free-form mapping alone', () => {
    const { root } = parseConfigText('vars:\n  tmpl:\n    anyVar: 1\n', 'f.yaml', {});
    root.section('vars').section('tmpl').freeForm();
    expect(() => root.checkKnownKeys()).not.toThrow();
  });

  it('points a missing required key at the stray key that is probably its typo', () => {
    const { root } = parseConfigText('kapacitor:\n  sync:\n    databses: [telegraf]\n', 'c.yaml', {});
    const sync = root.section('kapacitor').section('sync');
    expect(catchError(() => sync.requireString('databases')).message).toBe(
      'c.yaml: kapacitor.sync.databases: is required (the file has databses: a typo of databases?)',
    );
  });

  it('suggests only what is near', () => {
    expect(nearestKey('intervall', ['interval', 'timeout'])).toBe('interval');
    expect(nearestKey('Brokers', ['brokers'])).toBe('brokers');
    expect(nearestKey('xyz', ['interval', 'timeout'])).toBeUndefined();
  });
});

describe('${VAR} substitution', () => {
  it('substitutes variables and defaults in values, as Telegraf does', () => {
    const yaml = 'a: ${HOST}:${PORT:-6379}\nb: "${EMPTY:-dflt} ${EMPTY-kept}"\nc: ["x-${HOST}"]\nd: $${HOST}\n';
    const { root } = parseConfigText(yaml, 'f.yaml', { HOST: 'redis', EMPTY: '' });
    expect(root.string('a')).toBe('redis:6379');
    expect(root.string('b')).toBe('dflt ');
    expect(root.stringList('c')).toEqual(['x-redis']);
    expect(root.string('d')).toBe('${HOST}');
  });

  it('names the key and the variable when one is unset without a default', () => {
    const e = catchError(() => parseConfigText('redis:\n  url: redis://${REDIS_HOST}/0\n', 'f.yaml', {}));
    expect(e.message).toBe('f.yaml: redis.url: environment variable REDIS_HOST is not set: set it, or give a default as ${REDIS_HOST:-value}');
  });

  it('takes a secret from a whole-value reference, never from a literal', () => {
    const { root } = parseConfigText('a:\n  token: ${TOKEN}\nb:\n  token: pre-${TOKEN}\n', 'f.yaml', { TOKEN: 's3cret' });
    expect(root.section('a').secret('token')).toBe('s3cret');
    expect(catchError(() => root.section('b').secret('token')).key).toBe('b.token');
  });
});
