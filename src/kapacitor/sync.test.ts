import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_TICKSCRIPTS, syncOptionsFromConfig } from './sync.js';

describe('syncOptionsFromConfig', () => {
  it('defaults: local Kapacitor, the packaged tickscripts, user databases, {template}.{db}.{rp}', () => {
    const { root } = parseConfigText('', 'env', { INFLUXDB_URL: 'http://127.0.0.1:18086' });
    const o = syncOptionsFromConfig(root, {}, {});
    expect(o).toMatchObject({
      kapacitorUrl: 'http://127.0.0.1:9092',
      tickscripts: DEFAULT_TICKSCRIPTS,
      taskName: '{template}.{db}.{rp}',
      status: 'enabled',
      prune: false,
    });
    expect(o.influx).toEqual({ url: 'http://127.0.0.1:18086', token: undefined, timeoutMs: 10_000 });
    expect(o.match.test('_internal')).toBe(false);
    expect(DEFAULT_TICKSCRIPTS).toMatch(/\/tickscripts$/);
  });

  it('reads an explicit database list, vars per template, and lets KAPACITOR_URL and flags win', () => {
    const yaml = [
      'kapacitor:',
      '  url: http://file:9092',
      '  sync:',
      '    databases: [telemetry, metrics.30d]',
      '    taskName: udf-{template}-{db}',
      '    vars:',
      '      edge_detect: { field: value, minDuration: 2m }',
    ].join('\n');
    const { root } = parseConfigText(yaml, 'c.yaml', {});
    const o = syncOptionsFromConfig(root, { prune: true }, { KAPACITOR_URL: 'http://env:9092' });
    expect(o).toMatchObject({
      kapacitorUrl: 'http://env:9092',
      databases: [
        { db: 'telemetry', rp: 'autogen' },
        { db: 'metrics', rp: '30d' },
      ],
      influx: undefined,
      taskName: 'udf-{template}-{db}',
      vars: { edge_detect: { field: 'value', minDuration: '2m' } },
      prune: true,
    });
    expect(syncOptionsFromConfig(root, { kapacitorUrl: 'http://flag:1' }, {}).kapacitorUrl).toBe('http://flag:1');
  });

  it('needs either a database list or an InfluxDB to discover them from, and says so with the key and file', () => {
    const { root } = parseConfigText('kapacitor: {}\n', 'c.yaml', {});
    expect(() => syncOptionsFromConfig(root, {}, {})).toThrow(ConfigError);
    expect(() => syncOptionsFromConfig(root, {}, {})).toThrow(/^c\.yaml: kapacitor\.sync\.databases: /);
  });

  it('names the key of a bad regex or status', () => {
    const bad = (yaml: string) => () => syncOptionsFromConfig(parseConfigText(yaml, 'c.yaml', {}).root, {}, {});
    expect(bad('kapacitor:\n  sync:\n    databases: [a]\n    match: "("\n')).toThrow(/kapacitor\.sync\.match: not a valid regular expression/);
    expect(bad('kapacitor:\n  sync:\n    databases: [a]\n    status: on\n')).toThrow(/kapacitor\.sync\.status/);
  });
});
