import { mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { ConfigError } from '../errors.js';
import { mergeTokenFile, setupOptionsFromConfig, writeTokenFile } from './setup.js';

const feeders = { role: 'feeders' as const, description: 'udf-sidecar:feeders', id: 'a1', token: 'SECRET-F' };
const kapacitor = { role: 'kapacitor' as const, description: 'udf-sidecar:kapacitor', id: 'a2', token: 'SECRET-K' };

describe('setupOptionsFromConfig', () => {
  const env = { INFLUXDB_URL: 'http://127.0.0.1:18087', INFLUXDB_ORG: 'acme', INFLUXDB_TOKEN: 'op-token' };

  it('takes url, org and the operator token from the environment', () => {
    const { root } = parseConfigText('', 'env', env);
    expect(setupOptionsFromConfig(root, {})).toMatchObject({ url: env.INFLUXDB_URL, org: 'acme', token: 'op-token', tokenPrefix: 'udf-sidecar', dryRun: false });
  });

  it('reads bucket lists and the token file from influxSetup, flags winning', () => {
    const yaml = 'influxSetup:\n  feederBuckets: [telemetry]\n  kapacitorBuckets: telemetry, alerts\n  tokenFile: /tmp/a\n';
    const { root } = parseConfigText(yaml, 'conf.yaml', env);
    expect(setupOptionsFromConfig(root, { tokenFile: '/tmp/b', org: 'other', dryRun: true })).toMatchObject({
      feederBuckets: ['telemetry'],
      kapacitorBuckets: ['telemetry', 'alerts'],
      tokenFile: '/tmp/b',
      org: 'other',
      dryRun: true,
    });
  });

  it('has no default org: a missing one is a config error naming the key and the file', () => {
    const { root } = parseConfigText('influxdb:\n  url: http://x\n', 'conf.yaml', { INFLUXDB_TOKEN: 't' });
    expect(() => setupOptionsFromConfig(root, {})).toThrow(ConfigError);
    expect(() => setupOptionsFromConfig(root, {})).toThrow(/conf\.yaml: influxdb\.org: /);
  });

  it('refuses a token written into the config file', () => {
    const { root } = parseConfigText('influxdb:\n  url: http://x\n  org: a\n  token: abc\n', 'conf.yaml', {});
    expect(() => setupOptionsFromConfig(root, {})).toThrow(/influxdb\.token/);
  });

  it('requires an operator token and never echoes one', () => {
    const { root } = parseConfigText('influxdb:\n  url: http://x\n  org: a\n', 'conf.yaml', {});
    expect(() => setupOptionsFromConfig(root, {})).toThrow(/conf\.yaml: influxdb\.token: .*INFLUXDB_TOKEN/);
  });

  it('rejects a URL that is not one', () => {
    const { root } = parseConfigText('', 'env', { ...env, INFLUXDB_URL: 'localhost:8086' });
    expect(() => setupOptionsFromConfig(root, {})).toThrow(/influxdb\.url: not a URL/);
  });
});

describe('token file', () => {
  it('replaces the lines of the roles that got new tokens and keeps every other line', () => {
    const before = '# tokens\nFEEDERS_INFLUXDB_TOKEN=old\nOTHER=1\n';
    expect(mergeTokenFile(before, [feeders, kapacitor])).toBe('# tokens\nFEEDERS_INFLUXDB_TOKEN=SECRET-F\nOTHER=1\nKAPACITOR_INFLUXDB_0_TOKEN=SECRET-K\n');
    expect(mergeTokenFile('', [kapacitor])).toBe('KAPACITOR_INFLUXDB_0_TOKEN=SECRET-K\n');
  });

  it('is written with mode 0600, also over an existing world-readable file, leaving no temporary behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokens-'));
    const path = join(dir, 'tokens.env');
    writeFileSync(path, 'KAPACITOR_INFLUXDB_0_TOKEN=keep\n', { mode: 0o644 });
    writeTokenFile(path, [feeders]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('KAPACITOR_INFLUXDB_0_TOKEN=keep\nFEEDERS_INFLUXDB_TOKEN=SECRET-F\n');
    expect(readdirSync(dir)).toEqual(['tokens.env']);
  });
});
