import { type Admin, type ITopicConfig, type KafkaMessage, logLevel, type logCreator, type Message } from 'kafkajs';
import { SidecarError } from '../../errors.js';
import { retry } from '../../retry.js';
import type { Logger } from '../../log.js';
import { errorText } from '../feeder.js';

/** kafkajs logs through the feeder's logger (give it a child with component `kafkajs`), so stderr keeps one format. */
export function kafkaLogCreator(log: Logger): logCreator {
  const levels: Record<number, string> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug' };
  // kafkajs adds the error's stack to its entries: a log line keeps the message, never a stack trace.
  return () =>
    ({ namespace, level, log: { message, stack: _stack, ...extra } }) =>
      log.log(levels[level] ?? 'info', message, { namespace, ...extra });
}

/**
 * Why the start failed, naming the brokers and the key to look at. A broker not reachable (after kafkajs' own
 * retries) is retriable; a certificate not verified or a SASL login refused is not: waiting does not fix a config.
 */
export function kafkaStartError(err: unknown, brokers: string[]): SidecarError | undefined {
  const chain: Array<Error & { code?: unknown }> = [];
  for (let e = err; e instanceof Error && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  const where = `Kafka at ${brokers.join(',')}`;
  const sasl = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (sasl) return new SidecarError('KAFKA_REFUSED', `${where}: ${sasl.message}; check kafka.sasl.username and its password`, { cause: err });
  const network = chain.find((e) => /^KafkaJS(ConnectionError|BrokerNotFound|RequestTimeoutError)$/.test(e.name));
  if (network === undefined) return undefined;
  // kafkajs keeps the socket's code: E… for the network, a TLS verification code (SELF_SIGNED_CERT_IN_CHAIN…) otherwise.
  if (typeof network.code === 'string' && !/^E[A-Z]+$/.test(network.code)) {
    return new SidecarError('KAFKA_REFUSED', `${where}: ${network.message}; check kafka.ssl.ca (the CA that signed the broker's certificate)`, {
      cause: err,
    });
  }
  return new SidecarError('SERVER_UNREACHABLE', `${where}: ${network.message}; check kafka.brokers (env KAFKA_BROKERS)`, { cause: err, retriable: true });
}

/**
 * Creates topics and waits until each of their partitions has a leader. kafkajs's own wait (`waitForLeaders`) retries
 * only LEADER_NOT_AVAILABLE, but a KRaft broker may answer UNKNOWN_TOPIC_OR_PARTITION for a moment after it created
 * the topic, and kafkajs then throws; both are retriable, so both are waited out here. True when a topic was created.
 */
export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<boolean> {
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  await retry(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const leaderless = meta.topics.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}/${p.partitionId}`));
      if (leaderless.length > 0) throw new SidecarError('KAFKA_TOPIC_NOT_READY', `no leader yet for ${leaderless.join(', ')}`, { retriable: true });
    },
    { retries: 40, minDelayMs: 100, maxDelayMs: 1000 },
  );
  return created;
}

/** Creates the dead-letter topic if it is missing; without the right to, the topic may still exist: say so, go on. */
export async function ensureDeadLetterTopic(admin: Admin, topic: string, log: Logger): Promise<void> {
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      await createTopics(admin, [{ topic }]);
      log.info('created dead-letter topic', { topic });
    }
  } catch (err) {
    log.warn('could not check or create the dead-letter topic', { topic, error: errorText(err) });
  }
}

/** Dead letters keep key, value and headers, and say why and where from. */
export function deadLetters(items: Array<{ message: KafkaMessage; reason: string }>, topic: string, partition: number): Message[] {
  return items.map(({ message, reason }) => ({
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      'dlq-reason': reason,
      'dlq-source-topic': topic,
      'dlq-source-partition': String(partition),
      'dlq-source-offset': message.offset,
    },
  }));
}
