/** bench:feeders: the tables and target lines written into docs/benchmarks.md. */
import { median } from './common.js';
import type { KafkaRun } from './feeders-kafka.js';
import type { RedisBench } from './feeders-redis.js';

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export interface KafkaRows {
  total: number;
  reps: number;
  batchSize: number;
  runs: Record<string, KafkaRun[]>;
  telegrafNote: string;
}

export function kafkaTable(k: KafkaRows): string {
  const bare = median(k.runs.bare.map((r) => r.msgsPerSec));
  const telegraf = k.runs.telegraf?.length ? median(k.runs.telegraf.map((r) => r.msgsPerSec)) : undefined;
  const names: Record<string, string> = {
    bare: 'bare kafkajs consumer (counts only)',
    feeder1: 'feeder, 1 process',
    feeder3: 'feeders, 3 processes in one group',
    telegraf: 'Telegraf kafka_consumer → influxdb_v2',
  };
  const rows = [
    '| run | median msgs/s | (min–max) | median s | CPU s (all processes) | peak RSS MiB | ÷ bare | ÷ Telegraf |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const [key, runs] of Object.entries(k.runs)) {
    if (runs.length === 0) continue;
    const rates = runs.map((r) => r.msgsPerSec);
    const m = median(rates);
    rows.push(
      `| ${names[key]} | ${fmt(m)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${fmt(median(runs.map((r) => r.seconds)), 1)} | ${fmt(median(runs.map((r) => r.cpuS)), 1)} | ${fmt(median(runs.map((r) => r.rssMiB)))} | ${key === 'bare' ? '' : fmt(m / bare, 2)} | ${telegraf === undefined || key === 'telegraf' ? '' : fmt(m / telegraf, 2)} |`,
    );
  }
  return rows.join('\n');
}

export function kafkaTargets(k: KafkaRows): string[] {
  const m = (key: string) => median(k.runs[key].map((r) => r.msgsPerSec));
  const one = m('feeder1');
  const out = [
    `- ≥ 50,000 msgs/s confirmed with one feeder: ${one >= 50_000 ? 'met' : 'missed'} (${fmt(one)}).`,
    `- ≥ 0.5 × the bare consumer: ${one / m('bare') >= 0.5 ? 'met' : 'missed'} (${fmt(one / m('bare'), 2)}).`,
  ];
  if (k.runs.telegraf?.length) out.push(`- ≥ Telegraf: ${one >= m('telegraf') ? 'met' : 'missed'} (${fmt(one / m('telegraf'), 2)}).`);
  else out.push(`- ≥ Telegraf: not measured (${k.telegrafNote}).`);
  return out;
}

export function redisTable(r: RedisBench): string {
  const bare = median(r.bare);
  const row = (name: string, xs: number[]) =>
    `| ${name} | ${fmt(median(xs), 2)} | ${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)} | ${fmt(r.keys / median(xs))} | ${fmt(median(xs) / bare, 2)} |`;
  return [
    '| run | median s per pass | (min–max) | keys/s | ÷ bare |',
    '|---|---:|---|---:|---:|',
    row('bare SCAN + MGET (ioredis)', r.bare),
    row('… of which the SCAN', r.bareScan),
    row('feeder pass, points counted only', r.passOnly),
    row('one of 3 feeders (`--shard 1/3`), points counted only', r.shardOnly),
    row('feeder pass, points written to InfluxDB and confirmed', r.passWritten),
  ].join('\n');
}
