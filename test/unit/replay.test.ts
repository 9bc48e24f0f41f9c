/**
 * `udf-sidecar replay` on recordings made by real kapacitord (`kapacitor record stream|batch`, kept in
 * test/recordings/): the fast path through the functions, no Kapacitor needed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseRfc3339, readBatchRecording, readStreamRecording } from '../../src/recording.js';
import { replayFile } from '../../src/replay.js';

const rec = (f: string) => path.resolve(import.meta.dirname, '../recordings', f);
const expected = readFileSync(path.resolve(import.meta.dirname, '../fixtures/adsl/adsl_connection-edges-expected.lp'), 'utf8')
  .split('\n')
  .filter(Boolean);

describe('replay', () => {
  it('reads a Kapacitor stream recording and reduces it to the seed edges', async () => {
    const records = readStreamRecording(readFileSync(rec('adsl-stream.srpl')));
    expect(records).toHaveLength(17);
    expect(records[0]).toMatchObject({ database: 'adsl', retentionPolicy: 'autogen' });
    const out = await replayFile('edgeDetect', rec('adsl-stream.srpl'), { options: { field: 'value' }, groupBy: ['host'] });
    expect(out).toEqual(expected.map((l) => l.replace('router1', 'router4')));
  });

  it('reads a Kapacitor batch recording of overlapping windows and emits each edge once', async () => {
    const batches = readBatchRecording(readFileSync(rec('adsl-batch.brpl')));
    expect(batches.length).toBeGreaterThan(100); // `record batch -past 1h` with every 10s
    const out = await replayFile('edgeDetectBatch', rec('adsl-batch.brpl'), { options: { field: 'value' } });
    const all = batches.flatMap((b) => b.points);
    const first = all.reduce((a, p) => (p.time < a ? p.time : a), all[0].time);
    const step = 90_000_000_000n;
    expect(out).toEqual([
      `adsl_connection,host=router3 value="SHOWTIME" ${first}`,
      `adsl_connection,host=router3 value="TRAINING" ${first + 2n * step}`,
      `adsl_connection,host=router3 value="SHOWTIME" ${first + 4n * step}`,
    ]);
  });

  it('reads a stream recording of busplug meters and gives each hour its energy, a reset compensated', async () => {
    // Kapacitor's .srpl format (database, retention policy, line protocol), the Redis feeder's electrical_busplug.
    const out = await replayFile('increase', rec('busplug-energy.srpl'), { options: { field: 'metered_active_energy', window: '1h', as: 'energy' } });
    const H0 = 1_700_002_800_000_000_000n;
    const H = 3_600_000_000_000n;
    const at = (plug: string, energy: number, t: bigint) => `electrical_busplug,plug=${plug},pod=PB,rack=C06,row=R4 energy=${energy} ${t}`;
    expect(out).toEqual([
      at('A1', 200, H0 + H), // 1000 → 1100 → 1200
      at('A2', 25, H0 + H), // 4294967290 → 5 (a reset: +5) → 25
      at('A1', 230, H0 + 2n * H), // → 1300 → 1400 → 30 (a reset: +30)
      at('A1', 300, H0 + 3n * H), // → 130 → 230 → 330; 430 opens the fourth hour
    ]);
  });

  it('refuses a recording of the wrong kind for the function', async () => {
    await expect(replayFile('edgeDetect', rec('adsl-batch.brpl'), { options: { field: 'value' } })).rejects.toThrow(/use edgeDetectBatch/);
    await expect(replayFile('edgeDetectBatch', rec('adsl-stream.srpl'), { options: { field: 'value' } })).rejects.toThrow(/give a batch recording/);
  });

  it('parses RFC 3339 times to exact nanoseconds', () => {
    expect(parseRfc3339('2018-01-03T11:30:51.065000001Z')).toBe(1514979051065000001n);
    expect(parseRfc3339('2018-01-03T12:30:51Z')).toBe(1514982651000000000n);
    expect(parseRfc3339('2018-01-03T13:30:51.5+01:00')).toBe(1514982651500000000n);
  });
});

describe('udf-sidecar replay (the built CLI)', { timeout: 60_000 }, () => {
  const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

  /** Runs the CLI with `input` on stdin; node flags (a heap limit) go before the script. */
  function run(args: string[], input: Iterable<string> | Buffer, nodeFlags: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [...nodeFlags, cli, 'replay', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => undefined); // a CLI that fails early closes its stdin
    Readable.from(Buffer.isBuffer(input) ? [input] : input).pipe(child.stdin);
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  function* cpuLines(n: number, usage: (i: number) => string): Generator<string> {
    for (let i = 0; i < n; i += 1000) {
      let chunk = '';
      for (let j = i; j < Math.min(n, i + 1000); j++)
        chunk += `cpu,host=h${j % 50} usage=${usage(j)} ${1_700_000_000_000_000_000n + BigInt(j) * 1_000_000_000n}\n`;
      yield chunk;
    }
  }

  it('reads - as stdin, a stream recording as well as line protocol', async () => {
    const srpl = await run(['edgeDetect', '-', '-o', 'field=value', '--group-by', 'host'], readFileSync(rec('adsl-stream.srpl')));
    expect(srpl).toMatchObject({ code: 0, stderr: '' });
    expect(srpl.stdout.trim().split('\n')).toEqual(expected.map((l) => l.replace('router1', 'router4')));
    const lp = await run(['movingAverage', '-', '-o', 'field=usage', '-o', 'size=2'], ['cpu,host=a usage=1 1\ncpu,host=a usage=3 2\n']);
    expect(lp).toMatchObject({ code: 0, stdout: 'cpu,host=a movingAverage=2 2\n', stderr: '' });
  });

  it('streams: an input far larger than its heap goes through in constant memory', async () => {
    // 150,000 points held at once take ~200 MB; the whole replay gets a 48 MB heap.
    const r = await run(
      ['movingAverage', '-', '-o', 'field=usage', '-o', 'size=3', '--group-by', 'host'],
      cpuLines(150_000, (i) => String(i % 100)),
      ['--max-old-space-size=48'],
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(150_000 - 50 * 2);
  }, 120_000);

  it('says why nothing came out: a string field into movingAverage', async () => {
    const r = await run(
      ['movingAverage', '-', '-o', 'field=usage', '-o', 'size=2'],
      cpuLines(10, (i) => `"v${i}"`),
    );
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toBe(
      "udf-sidecar replay: nothing came out of movingAverage: field 'usage' is a string in 10 of the 10 points (movingAverage field: int or float field to average)\n",
    );
  });

  it('says so when a --group-by tag is on no point', async () => {
    const r = await run(
      ['edgeDetect', '-', '-o', 'field=usage', '--group-by', 'hots'],
      cpuLines(4, () => '1'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toBe(`udf-sidecar replay: no point has the tag 'hots' given to --group-by: it grouped nothing (every point has hots="")\n`);
  });

  it('names the line of a bad point, and a missing file, in one line', async () => {
    const bad = await run(['movingAverage', '-', '-o', 'field=usage', '-o', 'size=1'], ['# a comment\ncpu usage=1 1\ncpu usage 2\n']);
    expect(bad).toMatchObject({ code: 2, stderr: "udf-sidecar: stdin line 3: bad field 'usage' in: cpu usage 2 [INPUT_INVALID]\n" });
    const missing = await run(['movingAverage', '/nonexistent/in.lp', '-o', 'field=usage', '-o', 'size=1'], []);
    expect(missing).toMatchObject({ code: 2, stderr: 'udf-sidecar: /nonexistent/in.lp: no such file [PATH_INVALID]\n' });
  });

  it('ends quietly with status 0 when its reader goes away (| head -1)', async () => {
    const child = spawn(process.execPath, [cli, 'replay', 'movingAverage', '-', '-o', 'field=usage', '-o', 'size=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => undefined);
    Readable.from(cpuLines(100_000, (i) => String(i))).pipe(child.stdin);
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 60_000);
});
