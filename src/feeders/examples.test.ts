import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config.js';
import { readExecConfig } from './exec/config.js';
import { readInfluxConfig } from './influx-writer.js';
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
  });

  it('kafka.yaml reads', () => {
    const c = readKafkaConfig(example('kafka.yaml'));
    expect(c).toMatchObject({ topic: 'maas_notifications', deadLetterTopic: 'maas_notifications.dlq', tenants: ['hybrid:4958307'] });
  });

  it('router.yaml reads with its secrets from the environment', () => {
    const c = readRouterConfig(example('router.yaml', { ROUTER1_PASSWORD: 'a', ROUTER2_PASSWORD: 'b' }));
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
});
