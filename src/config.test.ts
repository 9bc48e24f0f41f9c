import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText, parseDurationMs } from './config.js';
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
    const { root } = parseConfigText(`a:\n  token: plain\nb:\n  passwordFile: ${join(dir, 'pw')}\nc:\n  passwordEnv: PW\nd:\n  passwordEnv: NOPE\n`, 'f.yaml', { PW: 'fromenv' });
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

  it('parses durations', () => {
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs(1500)).toBe(1500);
    expect(parseDurationMs('soon')).toBeUndefined();
  });
});
