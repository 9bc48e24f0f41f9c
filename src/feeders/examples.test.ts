import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { readExecConfig } from './exec/config.js';
import { sampleConfig } from './cli.js';
import { readInfluxConfig } from './influx-config.js';
import { readKafkaConfig } from './kafka/config.js';
import { readRedisConfig } from './redis/config.js';
import { readRouterConfig } from './router/config.js';

// The example configs are documentation: they must stay valid as the readers change.
const example = (name: string, env: NodeJS.ProcessEnv = {}) => {
  const file = new URL(`../../examples/feeders/${name}`, import.meta.url);
  return parseConfigText(readFileSync(file, 'utf8'), `examples/feeders/${name}`, env).root;
};

describe('example feeder configs', () => {
  it('redis.yaml reads, with the default families', () => {
    const root = example('redis.yaml');
    const c = readRedisConfig(root);
    expect(c.families.map((f) => f.name)).toContain('busplug');
    expect(c.families.find((f) => f.name === 'busplug')!.shards).toHaveLength(24);
    expect(readInfluxConfig(root.section('influxdb')).target.bucket).toBe('moc/autogen');
    root.checkKnownKeys();
  });

  it('kafka.yaml reads', () => {
    const root = example('kafka.yaml');
    const c = readKafkaConfig(root);
    readInfluxConfig(root.section('influxdb'));
    root.checkKnownKeys();
    expect(c).toMatchObject({ topic: 'maas_notifications', deadLetterTopic: 'maas_notifications.dlq', tenants: ['hybrid:4958307'] });
  });

  it('router.yaml reads with its secrets from the environment', () => {
    const root = example('router.yaml', { ROUTER1_PASSWORD: 'a', ROUTER2_PASSWORD: 'b' });
    const c = readRouterConfig(root);
    readInfluxConfig(root.section('influxdb'));
    root.checkKnownKeys();
    expect(c.routers.map((r) => [r.name, r.password, r.hostKeySha256 === undefined])).toEqual([
      ['router1', 'a', false],
      ['router2', 'b', true],
    ]);
  });

  it('exec.yaml reads: a command list without a shell, shell lines only where asked', () => {
    const c = readExecConfig(example('exec.yaml'));
    expect(c.checks.map((k) => [k.name, k.shell, k.argv[0], k.intervalMs, k.timeoutMs])).toEqual([
      ['load', false, 'awk', 60_000, 10_000],
      ['network', true, '/bin/sh', 30_000, 10_000],
      ['disk', true, '/bin/sh', 60_000, 5000],
    ]);
  });

  it('--sample-config prints these files, commented', () => {
    for (const name of ['redis', 'kafka', 'router']) {
      const text = sampleConfig(name);
      expect(text).toBe(readFileSync(new URL(`../../examples/feeders/${name}.yaml`, import.meta.url), 'utf8'));
      expect(text).toMatch(/^# udf-sidecar feed /);
    }
  });
});

describe('docs/feeders.md', () => {
  // Every key a reader knows is documented: the readers are the schema, so the reference follows them.
  it('documents every key the feeder readers know', () => {
    const doc = readFileSync(new URL('../../docs/feeders.md', import.meta.url), 'utf8');
    const env = { PW: 'x' };
    const yaml = [
      'routers:\n  - host: h\n    passwordEnv: PW\n    hostKeyCheck: "off"\n    username: u\n',
      'kafka:\n  brokers: [b:1]\n  ssl: {}\n  sasl: { username: u, passwordEnv: PW }\n',
      'families:\n  - { name: f, match: "a:*", measurement: m, scale: { x: 10 } }\n',
      'influxdb:\n  url: http://i:1\n  bucket: b\n  username: u\n',
    ].join('');
    const root = parseConfigText(yaml, 'all.yaml', env).root;
    readRouterConfig(root);
    readKafkaConfig(root);
    readRedisConfig(root);
    readInfluxConfig(root.section('influxdb'));
    const paths = root.knownKeyPaths();
    const isSection = (p: string) => paths.some((q) => q.startsWith(`${p}.`) || q.startsWith(`${p}[]`));
    const undocumented = paths
      .filter((p) => !isSection(p) && !p.startsWith('families[].scale.'))
      .filter((p) => {
        const last = p.split(/\.|\[\]\./).pop()!;
        // `key`, `section.key`, or one of `section.{a,key,b}`
        return !new RegExp(`\`([\\w.\\[\\]]*\\.)?${last}\`|[{,]${last}[,}]`).test(doc);
      });
    expect(undocumented).toEqual([]);
  });
});
