import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { ConfigSection } from '../../config.js';
import { DEFAULT_SUMMARY_RULES, type SummaryRules } from './transform.js';

export interface KafkaFeederConfig {
  brokers: string[];
  clientId: string;
  groupId: string;
  topic: string;
  fromBeginning: boolean;
  /** How long the group waits for a silent member (one that crashed) before giving its partitions to others. */
  sessionTimeoutMs: number;
  deadLetterTopic: string;
  ssl?: ConnectionOptions;
  sasl?: SASLOptions;
  /** Messages per chunk: the unit that is written, confirmed and committed. */
  batchSize: number;
  /** Chunks written but not yet committed at once, over all partitions: reading goes on while they are out. */
  chunksInFlight: number;
  statusIntervalMs: number;
  /** Allowed tenants; empty means all. */
  tenants: string[];
  /** A header naming the tenant, checked before the value is parsed. */
  tenantHeader: string;
  rules: SummaryRules;
}

export function readKafkaConfig(root: ConfigSection): KafkaFeederConfig {
  const k = root.section('kafka');
  const brokers = k.stringList('brokers');
  if (!brokers || brokers.length === 0) throw k.error('brokers', 'is required (host:port list)');
  const topic = k.string('topic', 'maas_notifications');
  const summary = root.section('summary');
  const paths = summary.section('paths');
  const d = DEFAULT_SUMMARY_RULES;
  return {
    brokers,
    clientId: k.string('clientId', 'udf-sidecar-feeder'),
    groupId: k.string('groupId', 'udf-sidecar-maas'),
    topic,
    fromBeginning: k.boolean('fromBeginning', true),
    sessionTimeoutMs: k.durationMs('sessionTimeout', 30_000),
    deadLetterTopic: k.string('deadLetterTopic', `${topic}.dlq`),
    ssl: readTls(k.section('ssl'), k.has('ssl')),
    sasl: readSasl(k.section('sasl'), k.has('sasl')),
    batchSize: root.number('batchSize', 500, { min: 1, integer: true }),
    chunksInFlight: root.number('chunksInFlight', 8, { min: 1, integer: true }),
    statusIntervalMs: root.durationMs('statusInterval', 60_000),
    tenants: root.stringList('tenants') ?? [],
    tenantHeader: root.string('tenantHeader', 'tenantId'),
    rules: {
      measurement: summary.string('measurement', d.measurement),
      paths: {
        time: paths.string('time', d.paths.time),
        tenant: paths.string('tenant', d.paths.tenant),
        entityLabel: paths.string('entityLabel', d.paths.entityLabel),
        checkLabel: paths.string('checkLabel', d.paths.checkLabel),
        alarmLabel: paths.string('alarmLabel', d.paths.alarmLabel),
        state: paths.string('state', d.paths.state),
        status: paths.string('status', d.paths.status),
      },
      labelPattern: summary.regex('labelPattern') ?? d.labelPattern,
      labelSeparator: summary.string('labelSeparator', d.labelSeparator),
    },
  };
}

/** TLS with client certificates: file paths in the config, the key's passphrase from env or a file. */
function readTls(s: ConfigSection, present: boolean): ConnectionOptions | undefined {
  if (!present || !s.boolean('enabled', true)) return undefined;
  return {
    ca: s.file('ca'),
    cert: s.file('cert'),
    key: s.file('key'),
    passphrase: s.secret('passphrase'),
    rejectUnauthorized: s.boolean('rejectUnauthorized', true),
    servername: s.string('servername'),
  };
}

function readSasl(s: ConfigSection, present: boolean): SASLOptions | undefined {
  if (!present) return undefined;
  const mechanism = s.oneOf('mechanism', ['plain', 'scram-sha-256', 'scram-sha-512'] as const, 'scram-sha-512');
  const username = s.requireString('username');
  const password = s.secret('password', 'KAFKA_SASL_PASSWORD');
  if (password === undefined) throw s.error('password', 'is required: set passwordEnv, passwordFile or KAFKA_SASL_PASSWORD');
  return { mechanism, username, password } as SASLOptions;
}
