import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { ConfigError } from '../errors.js';
import { readInfluxConfig } from './influx-writer.js';

const read = (yaml: string, env: NodeJS.ProcessEnv = {}) => readInfluxConfig(parseConfigText(yaml, 'f.yaml', env).root.section('influxdb'));

describe('InfluxDB target from config', () => {
  it('maps the v1 compatibility form to bucket db/rp and token user:password', () => {
    const { target } = read('influxdb:\n  url: http://127.0.0.1:18086\n  database: telegraf\n  retentionPolicy: autogen\n  username: feeder\n  passwordEnv: PW\n', { PW: 'pw' });
    expect(target).toMatchObject({ bucket: 'telegraf/autogen', token: 'feeder:pw', org: '' });
  });

  it('takes v2 url/org/bucket and the token from INFLUXDB_TOKEN', () => {
    const { target, tuning } = read('influxdb:\n  url: http://h:8086\n  org: dc\n  bucket: moc\n  maxRetryTime: 2m\n', { INFLUXDB_TOKEN: 't0k' });
    expect(target).toMatchObject({ url: 'http://h:8086', org: 'dc', bucket: 'moc', token: 't0k' });
    expect(tuning.maxRetryTimeMs).toBe(120_000);
  });

  it('refuses ambiguous or incomplete targets, naming the key', () => {
    expect(() => read('influxdb:\n  url: http://h\n  bucket: b\n  database: d\n')).toThrow(ConfigError);
    expect(() => read('influxdb:\n  url: http://h\n')).toThrow(/influxdb.bucket: is required/);
    expect(() => read('influxdb:\n  bucket: b\n')).toThrow(/influxdb.url/);
    expect(() => read('influxdb:\n  url: h:1\n  bucket: b\n')).toThrow(/http/);
  });
});
