import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { ConfigError } from '../errors.js';
import { deliverTokens, mergeTokenFile, setupOptionsFromConfig, tokenFileProblem, writeTokenFile } from './setup.js';

const feeders = { role: 'feeders' as const, description: 'udf-sidecar:feeders', id: 'a1', token: 'SECRET-F' };
const kapacitor = { role: 'kapacitor' as const, description: 'udf-sidecar:kapacitor', id: 'a2', token: 'SECRET-K' };

describe('setupOptionsFromConfig', () => {
  const env = { INFLUXDB_URL: 'http://127.0.0.1:18087', INFLUXDB_ORG: 'acme', INFLUXDB_TOKEN: 'op-token' };

  it('takes url, org and the operator token from the environment', () => {
    const { root } = parseConfigText('', 'env', env);
    expect(setupOptionsFromConfig(root, {})).toMatchObject({
      url: env.INFLUXDB_URL,
      org: 'acme',
      token: 'op-token',
      tokenPrefix: 'udf-sidecar',
      dryRun: false,
    });
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

describe('where the token file goes', () => {
  const sink = () => {
    let out = '';
    return { stdout: { write: (t: string) => ((out += t), true) } as unknown as NodeJS.WritableStream, text: () => out };
  };
  const logger = { info: () => undefined } as unknown as Parameters<typeof deliverTokens>[2]['logger'];

  it('finds a destination that cannot take the file before anything is done', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokens-'));
    expect(tokenFileProblem(join(dir, 'tokens.env'))).toBeUndefined();
    expect(tokenFileProblem(join(dir, 'missing', 'tokens.env'))).toMatch(/directory .*missing does not exist: create it or choose another path$/);
    mkdirSync(join(dir, 'sub'));
    expect(tokenFileProblem(join(dir, 'sub'))).toMatch(/it exists and is not a regular file$/);
    writeFileSync(join(dir, 'plain'), '');
    expect(tokenFileProblem(join(dir, 'plain', 'tokens.env'))).toMatch(/plain is not a directory$/);
    // Not even root may create files in /proc.
    expect(tokenFileProblem('/proc/udf-sidecar-tokens.env')).toMatch(/^cannot create files in \/proc \(E[A-Z]+\): choose a writable path$/);
    expect(readdirSync(dir).sort()).toEqual(['plain', 'sub']);
  });

  it('prints the secrets once on stdout when the file cannot be written, and says so in one line', () => {
    const out = sink();
    const why = deliverTokens([feeders, kapacitor], '/nonexistent-dir/tokens.env', { stdout: out.stdout, logger });
    expect(out.text()).toBe('FEEDERS_INFLUXDB_TOKEN=SECRET-F\nKAPACITOR_INFLUXDB_0_TOKEN=SECRET-K\n');
    expect(why).toBe(
      'the new tokens could not be written to /nonexistent-dir/tokens.env (ENOENT) and were printed on stdout instead, once: save them now (they are not shown again) and fix the path',
    );
    expect(why).not.toContain('SECRET');
  });

  it('writes the file and prints nothing when it can', () => {
    const out = sink();
    const path = join(mkdtempSync(join(tmpdir(), 'tokens-')), 'tokens.env');
    expect(deliverTokens([feeders], path, { stdout: out.stdout, logger })).toBeUndefined();
    expect(out.text()).toBe('');
    expect(readFileSync(path, 'utf8')).toBe('FEEDERS_INFLUXDB_TOKEN=SECRET-F\n');
  });
});
