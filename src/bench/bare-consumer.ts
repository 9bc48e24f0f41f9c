/**
 * The Kafka baseline of `npm run bench:feeders`: a kafkajs consumer that only counts messages — the client's own
 * limit. Same client settings as the feeder (eachBatch, default fetch sizes, offsets committed as batches end).
 *
 *   node dist/bench/bare-consumer.js BROKERS TOPIC GROUP
 *
 * Runs until SIGTERM, then prints `{"count":N}` on stdout: the benchmark ends the run when the group's committed
 * offsets reach the end of the topic, as it does for the feeder.
 */
import { Kafka, logLevel } from 'kafkajs';

async function main(): Promise<void> {
  const [brokers, topic, groupId] = process.argv.slice(2);
  if (!brokers || !topic || !groupId) throw new Error('usage: bare-consumer BROKERS TOPIC GROUP');
  const kafka = new Kafka({ clientId: 'bench-bare-consumer', brokers: brokers.split(','), logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  let count = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      count += batch.messages.length;
    },
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ count }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bare-consumer: ${(err as Error).message}\n`);
  process.exit(1);
});
