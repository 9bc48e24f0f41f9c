/**
 * `udf-sidecar replay` on recordings made by real kapacitord (`kapacitor record stream|batch`, kept in
 * test/recordings/): the fast path through the functions, no Kapacitor needed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
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
