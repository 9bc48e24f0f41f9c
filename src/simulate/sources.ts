/**
 * Data for the compose demo's sources: the MOC keys into Redis and monitoring notifications into Kafka, on a schedule.
 * They write what the feeders read in production, so `docker compose up` shows the whole pipeline moving.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { sleep } from '../retry.js';
import { applyToRedis, generateMoc, type GeneratedKey } from '../feeders/redis/generator.js';

/** Rewrites the MOC keys every `everyMs` (a fresh timestamp and the churn keys of the next pass) until aborted. */
export async function simulateRedis(o: { url: string; everyMs: number; signal: AbortSignal; log: Logger }): Promise<void> {
  const redis = new Redis(o.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on('error', (err: Error) => o.log.debug('redis connection error', { error: err.message }));
  let previous: GeneratedKey[] = [];
  try {
    for (let pass = 0; !o.signal.aborted; pass++) {
      try {
        const keys = generateMoc({ pass, timestamp: Math.floor(Date.now() / 1000) });
        await applyToRedis(redis, keys, previous);
        previous = keys;
        o.log.info('moc keys written', { url: o.url, keys: keys.length, pass });
      } catch (err) {
        o.log.warn('could not write the moc keys, trying again', { url: o.url, error: (err as Error).message });
      }
      await sleep(o.everyMs, o.signal);
    }
  } finally {
    redis.disconnect();
  }
}

const STATES = ['OK', 'WARNING', 'CRITICAL'] as const;
const NODES = ['web01-prod-a2.somecust', 'web02-prod-a2.somecust', 'db01-staging.othercust'];

/** The n-th notification: shaped as the feeder's summary rules read them, states cycling per entity. Pure. */
export function notification(n: number, nowMs: number): Record<string, unknown> {
  const entity = NODES[n % NODES.length];
  const node = entity.split('-')[0];
  const state = STATES[Math.floor(n / NODES.length) % STATES.length];
  return {
    tenantId: `hybrid:${4958307 + (n % 2)}`,
    entity: { label: entity },
    check: { label: `cpu_usage--${node}` },
    alarm: { label: `CPU high--${node}` },
    details: { timestamp: nowMs, state, status: `CPU at ${state === 'OK' ? 35 : state === 'WARNING' ? 82 : 97}%` },
  };
}

/** Produces a notification every `everyMs`; Kafka down is retried by the client, then by the next tick. */
export async function simulateKafka(o: { brokers: string[]; topic: string; everyMs: number; signal: AbortSignal; log: Logger }): Promise<void> {
  const kafka = new Kafka({ clientId: 'udf-sidecar-simulate', brokers: o.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  let connected = false;
  try {
    for (let n = 0; !o.signal.aborted; n++) {
      try {
        if (!connected) {
          await producer.connect();
          connected = true;
        }
        await producer.send({ topic: o.topic, messages: [{ value: JSON.stringify(notification(n, Date.now())) }] });
        if (n % 10 === 0) o.log.info('notifications produced', { topic: o.topic, total: n + 1 });
      } catch (err) {
        o.log.warn('could not produce a notification, trying again', { brokers: o.brokers, error: (err as Error).message });
      }
      await sleep(o.everyMs, o.signal);
    }
  } finally {
    if (connected) await producer.disconnect();
  }
}
