/**
 * `npm run bench:feeders`: the feeders against the real servers of the test stack (scripts/stack, the ports and run dir
 * from the environment, as the integration tests use them), with their baselines measured in the same run, and the
 * feeders section of docs/benchmarks.md.
 *
 * Kafka → InfluxDB: N UMB-shaped notifications (a share another tenant's, a few cut short) are produced once into a
 * topic of 6 partitions. Each run is a fresh consumer group from offset 0 and, for the feeders, a fresh database; the
 * clock runs from spawning the process(es) to the first poll (every 250 ms) that finds the group's committed offsets
 * at the end of every partition. The feeder commits only after InfluxDB accepted a chunk's points, so that is "the last
 * point confirmed". CPU and peak RSS are read from /proc at that moment, before the processes are stopped. Variants,
 * interleaved per repetition: the bare kafkajs consumer (counts only), one feeder, three feeders in one group, and
 * Telegraf (kafka_consumer → influxdb_v2) when scripts/bench/telegraf-build.sh has built it.
 *
 * Redis: K MOC-shaped keys (the generator, copied); one full feeder pass (SCAN per shard, MGET, transform, points
 * written to InfluxDB and confirmed) against a bare SCAN + MGET of the same keys with ioredis, in this process.
 *
 * Every run checks its counts (messages counted, points in InfluxDB, dead letters, keys and values) and the benchmark
 * fails on a wrong one.
 *
 *   npm run bench:feeders [-- --messages 1000000 --reps 3 --redis-keys 100000 --redis-reps 5 --only kafka|redis
 *                            --batch-size 500 --chunks-in-flight 8 --influx-batch-size 1000 --no-telegraf --variants bare,feeder1,feeder3,telegraf
 *                            --out docs/benchmarks.md]   (--out - : print only)
 *   --feeder-node-arg=ARG  (repeatable) a Node option for the feeder processes, e.g. --cpu-prof --cpu-prof-dir=DIR
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { machine as machineBase, median, writeSection } from './common.js';
import { expectedKafkaCounts, scaledMoc } from './feeder-workload.js';
import { feederNotes } from './feeder-notes.js';
import { highWatermarks, type KafkaRun, type KafkaSetup, PARTITIONS, produceTopic, runBare, runFeeders, runTelegraf } from './feeders-kafka.js';
import { benchRedis } from './feeders-redis.js';
import { fmt, type KafkaRows, kafkaTable, kafkaTargets, redisTable } from './feeders-report.js';
import { BenchCheckFailed, brokers, ROOT, stackStart } from './feeders-stack.js';

function machine(): string {
  return `${machineBase()}, load average at start ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      reps: { type: 'string', default: '3' },
      'redis-keys': { type: 'string', default: '100000' },
      'redis-reps': { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '500' },
      'chunks-in-flight': { type: 'string', default: '8' },
      'influx-batch-size': { type: 'string', default: '1000' },
      only: { type: 'string' },
      variants: { type: 'string', default: 'bare,feeder1,feeder3,telegraf' },
      'no-telegraf': { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT, 'docs', 'benchmarks.md') },
      'feeder-node-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  const positive = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} ${v} is not a positive integer`);
    return n;
  };
  const total = positive('messages', values.messages);
  const reps = positive('reps', values.reps);
  const redisKeys = positive('redis-keys', values['redis-keys']);
  const redisReps = positive('redis-reps', values['redis-reps']);
  const batchSize = positive('batch-size', values['batch-size']);
  const chunksInFlight = positive('chunks-in-flight', values['chunks-in-flight']);
  const influxBatchSize = positive('influx-batch-size', values['influx-batch-size']);
  const only = values.only;
  if (only !== undefined && only !== 'kafka' && only !== 'redis') throw new Error(`--only ${only}: give kafka or redis`);
  const startedAt = new Date();
  const machineLine = machine();
  const loadAtStart = os.loadavg()[0];
  for (const service of ['influxdb', 'redis', 'kafka']) stackStart(service);

  const sections: string[] = [];
  let failed = false;
  if (only !== 'redis') {
    let telegraf: string | undefined;
    let telegrafNote = 'not built';
    if (values['no-telegraf']) telegrafNote = '--no-telegraf';
    else {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts/bench/telegraf-build.sh')], { encoding: 'utf8', timeout: 30 * 60_000 });
      if (r.status === 0 && existsSync(r.stdout.trim())) telegraf = r.stdout.trim();
      else telegrafNote = `scripts/bench/telegraf-build.sh failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
    }
    const kafka = new Kafka({ clientId: 'bench-feeders', brokers, logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `bench_umb_${process.pid}_${Date.now().toString(36)}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-feeders-'));
    try {
      const t0 = performance.now();
      await produceTopic(admin, kafka, topic, total);
      process.stderr.write(`produced ${fmt(total)} messages into ${topic} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      const s: KafkaSetup = {
        admin,
        topic,
        total,
        expected: expectedKafkaCounts(total),
        high: await highWatermarks(admin, topic),
        batchSize,
        chunksInFlight,
        influxBatchSize,
        feederNodeArgs: values['feeder-node-arg'] ?? [],
        telegraf,
        dir,
      };
      const runs: Record<string, KafkaRun[]> = { bare: [], feeder1: [], feeder3: [], telegraf: [] };
      const variants: Array<[string, () => Promise<KafkaRun>]> = [
        ['bare', () => runBare(s)],
        ['feeder1', () => runFeeders(s, 1)],
        ['feeder3', () => runFeeders(s, 3)],
      ];
      if (telegraf) variants.push(['telegraf', () => runTelegraf(s)]);
      const chosen = String(values.variants).split(',');
      variants.splice(0, variants.length, ...variants.filter(([name]) => chosen.includes(name)));
      for (let r = 0; r < reps; r++) {
        // Rotate the order each repetition so no variant always runs right after the same neighbour.
        for (let v = 0; v < variants.length; v++) {
          const [name, run] = variants[(v + r) % variants.length];
          const m = await run();
          runs[name].push(m);
          process.stderr.write(
            `kafka rep ${r + 1}/${reps} ${name}: ${fmt(m.msgsPerSec)} msgs/s (${m.seconds.toFixed(1)} s, CPU ${m.cpuS.toFixed(1)} s, RSS ${m.rssMiB.toFixed(0)} MiB)\n`,
          );
        }
      }
      const k: KafkaRows = { total, reps, batchSize, runs, telegrafNote: telegraf ? '' : telegrafNote };
      const targets = kafkaTargets(k);
      failed ||= targets.some((t) => t.includes('missed'));
      sections.push(
        `### Kafka → InfluxDB\n\n${fmt(total)} messages (${fmt(s.expected.valid)} valid, ${fmt(s.expected.filtered)} another tenant's, ${fmt(s.expected.unparsable)} unparsable) in ${PARTITIONS} partitions; ${reps} repetitions, interleaved; feeder \`batchSize\` ${batchSize}, \`chunksInFlight\` ${chunksInFlight}; InfluxDB writes of ${fmt(influxBatchSize)} lines (the feeders' \`influxdb.batchSize\`, Telegraf's \`metric_batch_size\`).\n\n${kafkaTable(k)}\n\n${targets.join('\n')}`,
      );
    } finally {
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
    }
  }
  if (only !== 'kafka') {
    const copies = Math.max(1, Math.round(redisKeys / scaledMoc(1).length));
    const r = await benchRedis(copies, redisReps);
    const ratio = median(r.passWritten) / median(r.bare);
    failed ||= ratio > 1.5;
    sections.push(
      `### Redis → InfluxDB\n\n${fmt(r.keys)} MOC-shaped keys (the generator's building, ${copies} copies), the default families; ${redisReps} repetitions, interleaved.\n\n${redisTable(r)}\n\n- ≤ 1.5 × the bare SCAN + MGET per full pass: ${ratio <= 1.5 ? 'met' : 'missed'} (${fmt(ratio, 2)}).`,
    );
  }
  const body = `Generated by \`npm run bench:feeders\` on ${startedAt.toISOString()}. Do not edit by hand: run it again.\n\nMachine: ${machineLine}.\n\n${sections.join('\n\n')}\n\n${feederNotes(loadAtStart)}`;
  process.stdout.write(`\n${body}\n`);
  if (values.out !== '-') {
    await writeSection(String(values.out), 'feeders', `## Feeders (\`npm run bench:feeders\`)\n\n${body}`);
    process.stdout.write(`\nwrote the feeders section of ${values.out}\n`);
  }
  if (failed) process.stderr.write('bench:feeders: a target was missed (see above)\n');
}

main().catch((err) => {
  process.stderr.write(`bench:feeders: ${err instanceof BenchCheckFailed ? err.message : ((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
