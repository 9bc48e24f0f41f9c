/**
 * `npm run demo`: the three functions over real Unix sockets, no Kapacitor or InfluxDB needed. The sidecar serves
 * its sockets in this process; a protocol client plays Kapacitor's part. Input and output are printed side by side.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UdfClient } from './agent/client.js';
import type { Point, Request } from './agent/messages.js';
import { UdfServer } from './agent/server.js';
import { parseLine } from './line-protocol.js';
import { findFunction, servedFunctions } from './udf/registry.js';
import { initOptions, streamPoint, type OptionInput } from './udf/testing.js';
import { demoFeeders } from './demo-feeders.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const S = 1_000_000_000n;

interface Row {
  point: Point;
  show: string;
}

async function through(socketDir: string, fn: string, options: Record<string, OptionInput | OptionInput[]>, input: Row[]): Promise<Point[]> {
  const client = await UdfClient.connect(path.join(socketDir, `${fn}.sock`));
  const reqs: Request[] = [
    { kind: 'init', taskId: 'demo', nodeId: `${fn}1`, options: initOptions(findFunction(fn), options) },
    ...input.map((r) => ({ kind: 'point' as const, point: r.point })),
  ];
  client.send(...reqs);
  const responses = await client.finish();
  const init = responses.shift();
  if (init?.kind !== 'init' || !init.success) throw new Error(`${fn}: init failed: ${JSON.stringify(init)}`);
  return responses.flatMap((r) => (r.kind === 'point' ? [r.point] : []));
}

function table(title: string, tick: string, input: Row[], output: Point[], show: (p: Point) => string): void {
  const t0 = input[0].point.time;
  const byTime = new Map(output.map((p) => [p.time, show(p)]));
  console.log(`\n${title}\n  ${tick}\n`);
  console.log(`  ${'time'.padEnd(10)}${'input'.padEnd(26)}output`);
  for (const r of input) {
    const offset = `+${(r.point.time - t0) / S}s`;
    console.log(`  ${offset.padEnd(10)}${r.show.padEnd(26)}${byTime.get(r.point.time) ?? ''}`);
  }
  console.log(`  ${input.length} points in, ${output.length} out`);
}

async function main(): Promise<void> {
  const socketDir = mkdtempSync(path.join(tmpdir(), 'udf-demo-'));
  const server = new UdfServer(servedFunctions, { socketDir });
  await server.listen();
  try {
    console.log(`udf-sidecar demo: functions served on ${socketDir}/<name>.sock, driven over the UDF protocol`);

    const adsl: Row[] = readFileSync(path.join(root, 'test/fixtures/adsl/adsl_connection-raw.lp'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const p = parseLine(l);
        return { point: streamPoint(p.measurement, p.tags, p.time!, p, ['host']), show: `value="${p.fieldsString.value}"` };
      });
    const edges = await through(socketDir, 'edgeDetect', { field: 'value', previousAs: 'was', durationAs: 'lasted', unit: '1m' }, adsl);
    table(
      'edgeDetect: ADSL line state polled every ~90 s (seed data), only the state changes come out',
      "@edgeDetect().field('value').previousAs('was').durationAs('lasted').unit(1m)",
      adsl,
      edges,
      (p) => `${p.fieldsString.value}${p.fieldsString.was ? ` (was ${p.fieldsString.was} for ${p.fieldsDouble.lasted.toFixed(1)} min)` : ' (first)'}`,
    );

    const t0 = 1_700_000_000n * S;
    const counterValues = [1000n, 1600n, 2500n, 3100n, 250n, 900n, 1500n];
    const counter: Row[] = counterValues.map((v, i) => ({
      point: streamPoint('net', { host: 'edge1', interface: 'eth0' }, t0 + BigInt(i) * 60n * S, { fieldsInt: { bytes_recv: v } }),
      show: `bytes_recv=${v}i${i === 4 ? '  (reboot)' : ''}`,
    }));
    const rates = await through(socketDir, 'rate', { field: 'bytes_recv', unit: '1s' }, counter);
    table(
      'rate: a byte counter polled every minute, reset by a reboot',
      "@rate().field('bytes_recv').unit(1s)",
      counter,
      rates,
      (p) => `rate=${p.fieldsDouble.rate.toFixed(2)} B/s`,
    );

    let seed = 7;
    const noise = () => ((seed = (seed * 48271) % 2147483647) / 2147483647 - 0.5) * 20;
    const gauge: Row[] = Array.from({ length: 12 }, (_, i) => {
      const v = Math.round((50 + i * 2 + noise()) * 10) / 10;
      return { point: streamPoint('cpu', { host: 'web1' }, t0 + BigInt(i) * 10n * S, { fieldsDouble: { usage: v } }), show: `usage=${v}` };
    });
    const avgs = await through(socketDir, 'movingAverage', { field: 'usage', size: 4n, as: 'usage_avg' }, gauge);
    table(
      'movingAverage: a noisy CPU gauge, mean of the last 4 points',
      "@movingAverage().field('usage').size(4).as('usage_avg')",
      gauge,
      avgs,
      (p) => `usage_avg=${p.fieldsDouble.usage_avg.toFixed(2)}`,
    );
  } finally {
    await server.close();
    rmSync(socketDir, { recursive: true, force: true });
  }
  demoFeeders(root);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
