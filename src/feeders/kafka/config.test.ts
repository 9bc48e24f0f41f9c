import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config.js';
import { readKafkaConfig } from './config.js';

const read = (yaml: string, env: NodeJS.ProcessEnv = {}) => readKafkaConfig(parseConfigText(yaml, 'k.yaml', env).root);

describe('kafka feeder config', () => {
  it('reads TLS material from files and the SASL password from env, never from the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    for (const f of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, f), `-----${f}-----`);
    const c = read(
      `kafka:\n  brokers: [b:9093]\n  ssl:\n    ca: ${dir}/ca.pem\n    cert: ${dir}/client.pem\n    key: ${dir}/client.key\n  sasl:\n    mechanism: plain\n    username: u\n    passwordEnv: SASLPW\n`,
      { SASLPW: 'p' },
    );
    expect(String(c.ssl?.ca)).toBe('-----ca.pem-----');
    expect(String(c.ssl?.key)).toBe('-----client.key-----');
    expect(c.ssl?.rejectUnauthorized).toBe(true);
    expect(c.sasl).toEqual({ mechanism: 'plain', username: 'u', password: 'p' });
    expect(() => read('kafka:\n  brokers: [b:1]\n  sasl:\n    username: u\n    password: inline\n')).toThrow(/kafka.sasl.password: secrets are not read/);
    expect(() => read(`kafka:\n  brokers: [b:1]\n  ssl:\n    ca: ${dir}/missing.pem\n`)).toThrow(/kafka.ssl.ca: cannot read/);
  });

  it('takes brokers and topic from env, with the dead-letter topic following the topic', () => {
    const c = read('kafka: {}\n', { KAFKA_BROKERS: 'a:1, b:2', KAFKA_TOPIC: 'alerts' });
    expect(c.brokers).toEqual(['a:1', 'b:2']);
    expect(c.deadLetterTopic).toBe('alerts.dlq');
    expect(c.ssl).toBeUndefined();
    expect(() => read('kafka: {}\n')).toThrow(/kafka.brokers: is required/);
  });
});
