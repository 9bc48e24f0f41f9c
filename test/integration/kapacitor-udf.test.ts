/**
 * The sidecar under real kapacitord (built from the Go module proxy by scripts/stack), with real InfluxDB 1.8:
 * the tickscripts/ defined and enabled, points fed through Kapacitor's write endpoint and through InfluxDB
 * subscriptions, and the exact points that land in InfluxDB asserted.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLine } from '../../src/line-protocol.js';
import { replayFile } from '../../src/replay.js';
import { FunctionRunner, streamPoint } from '../../src/udf/testing.js';
import { cliPath, startSidecar, tickscriptDir, type Sidecar } from './sidecar.js';
import { createDatabase, dropDatabase, ensureInfluxDB, influxQuery, influxWriteLP, startKapacitord, type Kapacitord } from './stack.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/adsl');
const lines = (file: string) =>
  readFileSync(path.join(fixtures, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
const RAW = lines('adsl_connection-raw.lp');
const EXPECTED = lines('adsl_connection-edges-expected.lp');
const withHost = (ls: string[], host: string) => ls.map((l) => l.replace('host=router1', `host=${host}`));

const UDF_TIMEOUT = '3s';
let sidecar: Sidecar;
let k: Kapacitord;

async function kapacitor(args: string[]): Promise<string> {
  const r = await k.cli(args);
  if (r.code !== 0) throw new Error(`kapacitor ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function defineTask(id: string, tick: string, dbrp: string): Promise<void> {
  await kapacitor(['define', id, '-tick', path.join(tickscriptDir, tick), '-dbrp', dbrp]);
  await kapacitor(['enable', id]);
}

/** Defines (or redefines) and enables a task from a tickscript with some vars overridden. */
async function defineWithVars(id: string, tick: string, dbrp: string, vars: Record<string, string>): Promise<void> {
  const file = path.join(k.dir, `${id}-vars.json`);
  writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, { type: 'string', value: v }]))));
  await kapacitor(['define', id, '-tick', path.join(tickscriptDir, tick), '-dbrp', dbrp, '-vars', file]);
  await kapacitor(['enable', id]);
}

async function writeToKapacitor(db: string, rp: string, body: string[]): Promise<void> {
  const res = await fetch(`${k.url}/kapacitor/v1/write?db=${db}&rp=${rp}&precision=ns`, { method: 'POST', body: body.join('\n') });
  if (res.status !== 204) throw new Error(`kapacitor write: ${res.status} ${await res.text()}`);
}

/** Polls InfluxDB until `done(rows)` holds; returns the rows, or throws with the last rows and the task state. */
async function waitForRows(db: string, q: string, done: (rows: unknown[][]) => boolean, task: string, timeoutMs = 40_000): Promise<unknown[][]> {
  const deadline = Date.now() + timeoutMs;
  let rows: unknown[][] = [];
  for (;;) {
    const series = await influxQuery(db, q);
    rows = series.flatMap((s) => s.values.map((v) => (s.tags ? [...v, s.tags] : v)));
    if (done(rows)) return rows;
    if (Date.now() > deadline) {
      const show = await k.cli(['show', task]);
      throw new Error(
        `timed out on ${q}: ${JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n${show.stdout}\nsidecar:\n${sidecar.log().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function taskShow(id: string): Promise<string> {
  return (await k.cli(['show', id])).stdout;
}

beforeAll(async () => {
  await ensureInfluxDB();
  for (const db of ['adsl', 'telegraf']) {
    await dropDatabase(db);
    await createDatabase(db);
  }
  // Snapshots every second, so the restart test need not wait a minute.
  process.env.KAPACITOR_TASK_SNAPSHOT_INTERVAL = '1s';
  // A tight keepalive timeout: the burst test shows it is never tripped, the crash test that it is.
  sidecar = await startSidecar(undefined, { udfTimeout: UDF_TIMEOUT, extraArgs: ['--no-state-dir'] }); // Kapacitor's snapshots only: the state dir has its own test (heal-upgrade)
  // The databases exist before kapacitord starts: it subscribes to every database at start.
  // Process mode beside the sockets: Kapacitor starts `udf-sidecar run edgeDetect` itself for this one.
  const processMode = [
    '  [udf.functions.edgeDetectProcess]',
    `    prog = ${JSON.stringify(process.execPath)}`,
    `    args = [${JSON.stringify(cliPath)}, "run", "edgeDetect"]`,
    `    timeout = "${UDF_TIMEOUT}"`,
  ].join('\n');
  k = await startKapacitord({ udfConf: `${sidecar.udfConf}${processMode}\n`, influxdb: true, name: 'udf-e2e' });
});

afterAll(async () => {
  await k?.stop();
  await sidecar?.stop();
});

describe('real kapacitord driving the sidecar', () => {
  it('asks every function for Info at start and lists them', async () => {
    // kapacitord refuses to start when a configured UDF does not answer Info; it logs each one it loaded.
    const log = readFileSync(k.logPath, 'utf8');
    for (const fn of ['edgeDetect', 'edgeDetectBatch', 'movingAverage', 'movingAverageBatch', 'rate', 'rateBatch', 'increase', 'increaseBatch']) {
      expect(log).toMatch(new RegExp(`msg="loaded UDF info" service=udf udf=${fn}\\b`));
    }
    expect(sidecar.log()).not.toMatch(/"level":"error"/);
  });

  it('reduces the ADSL seed to its 6 state changes, written to Kapacitor and through an InfluxDB subscription', async () => {
    await defineTask('adsl_edges', 'edge_detect.tick', 'adsl.autogen');
    await writeToKapacitor('adsl', 'autogen', RAW); // router1: Kapacitor's own write endpoint
    await influxWriteLP('adsl', 'autogen', withHost(RAW, 'router2')); // router2: InfluxDB pushes to Kapacitor
    const q = 'SELECT value FROM adsl_connection_edges GROUP BY host';
    const rows = await waitForRows('adsl', q, (r) => r.length >= 12, 'adsl_edges');
    const got = rows.map(([time, value, tags]) => `adsl_connection,host=${(tags as { host: string }).host} value="${value}" ${time}`);
    expect(got).toEqual([...EXPECTED, ...withHost(EXPECTED, 'router2')]);
  });

  it('runs a function in process mode (Kapacitor starts `udf-sidecar run`), same edges', async () => {
    const tick = path.join(k.dir, 'edge_detect_process.tick');
    writeFileSync(
      tick,
      readFileSync(path.join(tickscriptDir, 'edge_detect.tick'), 'utf8')
        .replace('@edgeDetect()', '@edgeDetectProcess()')
        .replace("'adsl_connection_edges'", "'adsl_process_edges'"),
    );
    await kapacitor(['define', 'adsl_process', '-tick', tick, '-dbrp', 'adsl.autogen']);
    await kapacitor(['enable', 'adsl_process']);
    await writeToKapacitor('adsl', 'autogen', withHost(RAW, 'router8'));
    const rows = await waitForRows('adsl', "SELECT value FROM adsl_process_edges WHERE host = 'router8'", (r) => r.length >= 6, 'adsl_process');
    expect(rows.map(([t, v]) => `adsl_connection,host=router8 value="${v}" ${t}`)).toEqual(withHost(EXPECTED, 'router8'));
    await kapacitor(['disable', 'adsl_process']);
  });

  it('computes movingAverage and counter rate exactly as the function does on its own', async () => {
    await defineTask('cpu_avg', 'moving_average.tick', 'telegraf.autogen');
    await defineTask('net_rate', 'counter_rate.tick', 'telegraf.autogen');
    const t0 = 1_700_000_000_000_000_000n;
    const S = 1_000_000_000n;
    const gauge = [1, 2, 3, 4, 10, 7.5].map((v, i) => `cpu,host=a usage=${v} ${t0 + BigInt(i) * 10n * S}`);
    const counter = [1000, 1600, 300, 900].map((v, i) => `net,host=a,interface=eth0 bytes_recv=${v}i ${t0 + BigInt(i) * 60n * S}`);
    await writeToKapacitor('telegraf', 'autogen', [...gauge, ...counter]);

    const avg = await waitForRows('telegraf', 'SELECT usage_avg FROM cpu_avg', (r) => r.length >= 4, 'cpu_avg');
    const rate = await waitForRows('telegraf', 'SELECT bytes_per_second FROM net_rate', (r) => r.length >= 3, 'net_rate');
    expect(avg.map((r) => r[1])).toEqual([2, 3, 17 / 3, 7.166666666666667]);
    expect(rate.map((r) => r[1])).toEqual([10, 5, 10]); // 600/60, reset: 300/60, 600/60

    // And exactly what the function computes without Kapacitor, times included.
    const alone = (fn: string, opts: Record<string, string | bigint>, input: string[], tags: string[]) => {
      const f = new FunctionRunner(fn);
      expect(f.init(opts)).toBe('');
      return input.flatMap((l) => {
        const p = parseLine(l);
        return f.point(streamPoint(p.measurement, p.tags, p.time!, p, tags));
      });
    };
    const avgAlone = alone('movingAverage', { field: 'usage', size: 3n, as: 'usage_avg' }, gauge, ['host']);
    expect(avg).toEqual(avgAlone.map((p) => [p.time, p.fieldsDouble.usage_avg]));
    const rateAlone = alone('rate', { field: 'bytes_recv', as: 'bytes_per_second' }, counter, ['host', 'interface']);
    expect(rate).toEqual(rateAlone.map((p) => [p.time, p.fieldsDouble.bytes_per_second]));
  });

  it('runs the batch variant on queried batches, keeping state across batches', async () => {
    // Recent times: the batch task queries the last hour every 10 s.
    const now = BigInt(Date.now()) * 1_000_000n;
    const states = ['SHOWTIME', 'SHOWTIME', 'TRAINING', 'TRAINING', 'SHOWTIME', 'SHOWTIME'];
    const start = now - 50n * 60_000_000_000n;
    const pts = states.map((v, i) => `adsl_connection,host=router3 value="${v}" ${start + BigInt(i) * 90_000_000_000n}`);
    await influxWriteLP('adsl', 'autogen', pts);
    await defineTask('adsl_edges_batch', 'edge_detect_batch.tick', 'adsl.autogen');
    const rows = await waitForRows('adsl', "SELECT value FROM adsl_connection_edges_batch WHERE host = 'router3'", (r) => r.length >= 3, 'adsl_edges_batch');
    expect(rows.map((r) => [r[0], r[1]])).toEqual([
      [start, 'SHOWTIME'],
      [start + 2n * 90_000_000_000n, 'TRAINING'],
      [start + 4n * 90_000_000_000n, 'SHOWTIME'],
    ]);
    // Later batches see the same points again: no new edges (state kept per group across batches).
    await new Promise((r) => setTimeout(r, 11_000));
    const again = await influxQuery('adsl', "SELECT count(value) FROM adsl_connection_edges_batch WHERE host = 'router3'");
    expect(again[0].values[0][1]).toBe(3);
    expect(await taskShow('adsl_edges_batch')).toMatch(/edgeDetectBatch2 \[.*errors="0"/);
  });

  it('runs movingAverageBatch and rateBatch from the batch tickscripts, equal to the functions on their own', async () => {
    const S = 1_000_000_000n;
    const start = (BigInt(Date.now()) - 40n * 60_000n) * 1_000_000n;
    const gauge = [1, 2, 3, 4, 10, 7.5].map((v, i) => `cpu,host=batch usage=${v} ${start + BigInt(i) * 10n * S}`);
    const counter = [1000, 1600, 300, 900].map((v, i) => `net,host=batch,interface=eth0 bytes_recv=${v}i ${start + BigInt(i) * 60n * S}`);
    await influxWriteLP('telegraf', 'autogen', [...gauge, ...counter]);
    await defineTask('cpu_avg_batch', 'moving_average_batch.tick', 'telegraf.autogen');
    await defineTask('net_rate_batch', 'counter_rate_batch.tick', 'telegraf.autogen');
    const avg = await waitForRows('telegraf', "SELECT usage_avg FROM cpu_avg_batch WHERE host = 'batch'", (r) => r.length >= 6, 'cpu_avg_batch');
    const rate = await waitForRows('telegraf', "SELECT bytes_per_second FROM net_rate_batch WHERE host = 'batch'", (r) => r.length >= 3, 'net_rate_batch');
    // window 30s: (t - 30s, t] holds this point and the two before it
    expect(avg.map((r) => r[1])).toEqual([1, 1.5, 2, 3, 17 / 3, 7.166666666666667]);
    expect(avg.map((r) => r[0])).toEqual(gauge.map((l) => BigInt(l.split(' ')[2])));
    // InfluxDB returns ints as ints to the batch query: the same rates as the stream task.
    expect(rate.map((r) => r[1])).toEqual([10, 5, 10]);
  });

  it('sums hourly energy with increase (stream, per window) from a counter with a reset, as the function does alone', async () => {
    // The stream form of tickscripts/energy_hourly.tick (docs/writing-a-function.md), on the telegraf database.
    const tick = path.join(k.dir, 'energy_stream.tick');
    writeFileSync(
      tick,
      [
        'stream',
        "    |from().measurement('electrical_busplug').groupBy('row', 'pod', 'rack', 'plug')",
        "    @increase().field('metered_active_energy').window(1h).as('energy')",
        "    |influxDBOut().database('telegraf').retentionPolicy('autogen').measurement('busplug_energy_stream').precision('ns')",
      ].join('\n'),
    );
    await kapacitor(['define', 'energy_stream', '-tick', tick, '-dbrp', 'telegraf.autogen']);
    await kapacitor(['enable', 'energy_stream']);
    const M = 60_000_000_000n;
    const H0 = 1_700_002_800_000_000_000n; // an hour boundary
    const readings: [bigint, number][] = [
      [0n, 1000],
      [30n, 1200],
      [65n, 1500],
      [100n, 20], // the meter restarted
      [110n, 80],
      [130n, 100],
      [180n, 150], // opens the fourth hour: the third is written
    ];
    const input = readings.map(([m, v]) => `electrical_busplug,row=R4,pod=PB,rack=C06,plug=A1 metered_active_energy=${v} ${H0 + m * M}`);
    await writeToKapacitor('telegraf', 'autogen', input);
    const rows = await waitForRows('telegraf', 'SELECT energy FROM busplug_energy_stream', (r) => r.length >= 3, 'energy_stream');
    expect(rows).toEqual([
      [H0 + 60n * M, 200],
      [H0 + 120n * M, 300 + 20 + 60],
      [H0 + 180n * M, 20], // 130 → 150 is in the fourth hour
    ]);
    const f = new FunctionRunner('increase');
    expect(f.init({ field: 'metered_active_energy', window: '1h', as: 'energy' })).toBe('');
    const alone = input.flatMap((l) => {
      const p = parseLine(l);
      return f.point(streamPoint(p.measurement, p.tags, p.time!, p, ['plug', 'pod', 'rack', 'row']));
    });
    expect(rows).toEqual(alone.map((p) => [p.time, p.fieldsDouble.energy]));
    expect(await taskShow('energy_stream')).toMatch(/increase2 \[.*errors="0"/);
  });

  it('runs tickscripts/energy_hourly.tick (increaseBatch): one increase per batch, the reset compensated, none for a batch without new points', async () => {
    const start = (BigInt(Date.now()) - 40n * 60_000n) * 1_000_000n;
    const M = 60_000_000_000n;
    const input = [100, 160, 10, 50].map(
      (v, i) => `electrical_busplug,row=R1,pod=PA,rack=C01,plug=B2 metered_active_energy=${v} ${start + BigInt(i) * 5n * M}`,
    );
    await influxWriteLP('telegraf', 'autogen', input);
    // The packaged script on this database, queried every 10 s rather than every hour: overlapping batches, each point
    // counted once.
    const tick = path.join(k.dir, 'energy_hourly_10s.tick');
    writeFileSync(
      tick,
      readFileSync(path.join(tickscriptDir, 'energy_hourly.tick'), 'utf8')
        .replace('"moc"."autogen"', '"telegraf"."autogen"')
        .replace("var outputDB = 'moc'", "var outputDB = 'telegraf'")
        .replace('var every = 1h', 'var every = 10s'),
    );
    await kapacitor(['define', 'energy_hourly', '-tick', tick, '-dbrp', 'telegraf.autogen']);
    await kapacitor(['enable', 'energy_hourly']);
    const q = "SELECT energy FROM busplug_energy_hourly WHERE plug = 'B2'";
    const rows = await waitForRows('telegraf', q, (r) => r.length >= 1, 'energy_hourly');
    expect(rows.map((r) => r[1])).toEqual([60 + 10 + 40]);
    await new Promise((r) => setTimeout(r, 11_000));
    expect((await influxQuery('telegraf', q))[0].values).toHaveLength(1);
    expect(await taskShow('energy_hourly')).toMatch(/increaseBatch2 \[.*errors="0"/);
  });

  it('records a stream, replays it through Kapacitor, and udf-sidecar replay reads the same recording', async () => {
    const id = 'adsl-stream';
    await kapacitor(['record', 'stream', '-task', 'adsl_edges', '-duration', '5s', '-recording-id', id, '-no-wait']);
    await new Promise((r) => setTimeout(r, 300));
    await writeToKapacitor('adsl', 'autogen', withHost(RAW, 'router4'));
    // A stream recording ends at the first point stamped after (start + duration), wall clock: send one from the future.
    const future = (BigInt(Date.now()) + 3_600_000n) * 1_000_000n;
    await writeToKapacitor('adsl', 'autogen', [`adsl_connection,host=clock value="TICK" ${future}`]);
    const deadline = Date.now() + 30_000;
    while (!(await kapacitor(['list', 'recordings', id])).includes('finished')) {
      if (Date.now() > deadline) throw new Error(`recording ${id} did not finish: ${await kapacitor(['list', 'recordings', id])}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const file = readdirSync(k.replayDir).find((f) => f.startsWith(`${id}.`));
    expect(file).toMatch(/\.srpl$/);
    const offline = await replayFile('edgeDetect', path.join(k.replayDir, file!), { options: { field: 'value' }, groupBy: ['host'] });
    expect(offline).toEqual(withHost(EXPECTED, 'router4'));

    // Replay into a second task that writes elsewhere, so the assertion sees only the replay's output.
    await defineWithVars('adsl_edges_replay', 'edge_detect.tick', 'adsl.autogen', { outputMeasurement: 'adsl_replayed' });
    await kapacitor(['disable', 'adsl_edges_replay']); // a replay runs the task afresh; live it would also see router1..
    await kapacitor(['replay', '-recording', id, '-task', 'adsl_edges_replay', '-rec-time']);
    const rows = await waitForRows('adsl', "SELECT value FROM adsl_replayed WHERE host = 'router4'", (r) => r.length >= 6, 'adsl_edges_replay');
    expect(rows.map(([t, v]) => `adsl_connection,host=router4 value="${v}" ${t}`)).toEqual(withHost(EXPECTED, 'router4'));
  });

  it('records a batch, replays it through Kapacitor, and udf-sidecar replay reads the same recording', async () => {
    const id = 'adsl-batch';
    await kapacitor(['record', 'batch', '-task', 'adsl_edges_batch', '-past', '1h', '-recording-id', id, '-no-wait']);
    const deadline = Date.now() + 30_000;
    while (!(await kapacitor(['list', 'recordings', id])).includes('finished')) {
      if (Date.now() > deadline) throw new Error(`recording ${id} did not finish: ${await kapacitor(['list', 'recordings', id])}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const file = readdirSync(k.replayDir).find((f) => f.startsWith(`${id}.`));
    expect(file).toMatch(/\.brpl$/);
    const offline = await replayFile('edgeDetectBatch', path.join(k.replayDir, file!), { options: { field: 'value' } });
    const live = (await influxQuery('adsl', "SELECT value FROM adsl_connection_edges_batch WHERE host = 'router3'"))[0].values;
    const router3 = offline.filter((l) => l.includes('host=router3'));
    expect(router3.map((l) => l.replace(/^\S+ /, ''))).toEqual(live.map(([t, v]) => `value="${v}" ${t}`));

    await defineWithVars('adsl_edges_batch_replay', 'edge_detect_batch.tick', 'adsl.autogen', { outputMeasurement: 'adsl_batch_replayed' });
    await kapacitor(['disable', 'adsl_edges_batch_replay']);
    await kapacitor(['replay', '-recording', id, '-task', 'adsl_edges_batch_replay', '-rec-time']);
    const replayed = await waitForRows(
      'adsl',
      "SELECT value FROM adsl_batch_replayed WHERE host = 'router3'",
      (r) => r.length >= live.length,
      'adsl_edges_batch_replay',
    );
    expect(replayed).toEqual(live);
  });

  it('restores state from a snapshot when the task restarts (no repeated first edge)', async () => {
    const t0 = 1_600_000_000_000_000_000n;
    const M = 60_000_000_000n;
    await writeToKapacitor('adsl', 'autogen', [`adsl_connection,host=router5 value="SHOWTIME" ${t0}`]);
    await waitForRows('adsl', "SELECT value FROM adsl_connection_edges WHERE host = 'router5'", (r) => r.length === 1, 'adsl_edges');
    await new Promise((r) => setTimeout(r, 2500)); // a snapshot is taken every second
    await kapacitor(['disable', 'adsl_edges']);
    await kapacitor(['enable', 'adsl_edges']);
    await writeToKapacitor('adsl', 'autogen', [
      `adsl_connection,host=router5 value="SHOWTIME" ${t0 + M}`, // same state: restored, so not a "first point"
      `adsl_connection,host=router5 value="TRAINING" ${t0 + 2n * M}`,
    ]);
    const rows = await waitForRows('adsl', "SELECT value FROM adsl_connection_edges WHERE host = 'router5'", (r) => r.length >= 2, 'adsl_edges');
    await new Promise((r) => setTimeout(r, 1500));
    const final = (await influxQuery('adsl', "SELECT value FROM adsl_connection_edges WHERE host = 'router5'"))[0].values;
    expect(final.map(([t, v]) => [t, v])).toEqual([
      [t0, 'SHOWTIME'],
      [t0 + 2n * M, 'TRAINING'],
    ]);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(sidecar.log()).toMatch(/"message":"state restored".*"task":"adsl_edges"/);
  });

  it('keeps up with a burst without tripping keepalive timeouts', async () => {
    const n = 30_000;
    const t0 = 1_650_000_000_000_000_000n;
    const body: string[] = [];
    for (let i = 0; i < n; i++) body.push(`cpu,host=burst${i % 10} usage=${i % 97} ${t0 + BigInt(i) * 1_000_000n}`);
    for (let i = 0; i < n; i += 5000) await writeToKapacitor('telegraf', 'autogen', body.slice(i, i + 5000));
    const want = n - 10 * 2; // size 3: two points per group before the first average
    await waitForRows('telegraf', 'SELECT count(usage_avg) FROM cpu_avg WHERE host =~ /^burst/', (r) => r.length > 0 && r[0][1] === want, 'cpu_avg', 90_000);
    const show = await taskShow('cpu_avg');
    expect(show).toMatch(/Executing: true/);
    expect(show).toMatch(/movingAverage2 \[.*errors="0"/);
    expect(readFileSync(k.logPath, 'utf8')).not.toMatch(/keepalive timed out/i);
  });

  it('after a sidecar crash the task loses its UDF (keepalive timeout); restart the sidecar, then disable/enable the task', async () => {
    await defineWithVars('crash_edges', 'edge_detect.tick', 'adsl.autogen', { outputMeasurement: 'crash_edges' });
    await writeToKapacitor('adsl', 'autogen', [`adsl_connection,host=router6 value="SHOWTIME" 1600000000000000000`]);
    await waitForRows('adsl', 'SELECT value FROM crash_edges', (r) => r.length === 1, 'crash_edges');
    const socketDir = sidecar.socketDir;
    await sidecar.kill();
    await writeToKapacitor('adsl', 'autogen', [`adsl_connection,host=router6 value="TRAINING" 1600000060000000000`]);
    // What Kapacitor 1.8 does: socket UDFs never reconnect. After `timeout` without a keepalive answer it logs an error
    // for the node (the task still reads "Executing: true") and the task produces nothing more.
    const deadline = Date.now() + 30_000;
    const timedOut = () =>
      readFileSync(k.logPath, 'utf8')
        .split('\n')
        .some((l) => /task=crash_edges node=edgeDetect2 err="keepalive timedout/.test(l));
    while (!timedOut() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(timedOut()).toBe(true);
    expect((await influxQuery('adsl', 'SELECT value FROM crash_edges'))[0].values).toHaveLength(1);
    // The operator's move: start the sidecar again (its stale sockets are replaced), then disable/enable the task.
    sidecar = await startSidecar(socketDir, { udfTimeout: UDF_TIMEOUT, extraArgs: ['--no-state-dir'] });
    await kapacitor(['disable', 'crash_edges']);
    await kapacitor(['enable', 'crash_edges']);
    expect(await taskShow('crash_edges')).toMatch(/Executing: true/);
    await writeToKapacitor('adsl', 'autogen', [`adsl_connection,host=router7 value="TRAINING" 1600000000000000000`]);
    const rows = await waitForRows('adsl', "SELECT value FROM crash_edges WHERE host = 'router7'", (r) => r.length === 1, 'crash_edges');
    expect(rows[0][1]).toBe('TRAINING');
  });
});
