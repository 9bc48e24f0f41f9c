import { describe, expect, it } from 'vitest';
import { toLineProtocol } from '../point.js';
import { runPoints, type RunOutcome } from './points.js';
import { CounterRates } from './rate.js';

const T = 1_700_000_000_000_000_000n;
const ok: RunOutcome = { exitCode: 0, timedOut: false, truncated: false, durationMs: 250 };

describe('a run of a check as points', () => {
  it('writes stack values, rates from the second run on, line protocol as it is, and a status point', () => {
    const rates = new CounterRates();
    const out = 'disk.used_pct 81.5 OS stack\nreq 1000 APP rate\ncpu,core=0 idle=97.5,irq=3i\n# comment\nnot a metric\n';
    const first = runPoints('web', 'h1', out, ok, T, rates);
    expect(first.points.map(toLineProtocol)).toEqual([
      `disk.used_pct,check=web,host=h1,type=OS value=81.5 ${T}`,
      `cpu,core=0 idle=97.5,irq=3i ${T}`,
      `exec_check,check=web,host=h1 bad_lines=1,duration_seconds=0.25,exit_code=0,lines=3,timed_out=F ${T}`,
    ]);
    expect(first.firstReadings).toBe(1);
    expect(first.bad).toEqual([{ line: 'not a metric', reason: expect.stringMatching(/^neither/) }]);

    const second = runPoints('web', 'h1', 'req 1600 APP rate\n', ok, T + 60_000_000_000n, rates);
    expect(second.points.map(toLineProtocol)[0]).toBe(`req,check=web,host=h1,type=APP value=10 ${T + 60_000_000_000n}`);
  });

  it('reports a killed, failed or missing program in the status point', () => {
    const rates = new CounterRates();
    const killed = runPoints(
      'slow',
      'h1',
      'half 1 OS stack\n',
      { exitCode: 143, signal: 'SIGTERM', timedOut: true, truncated: true, durationMs: 5000 },
      T,
      rates,
    );
    expect(killed.points.at(-1)).toEqual({
      measurement: 'exec_check',
      tags: { host: 'h1', check: 'slow' },
      fields: { exit_code: 143, timed_out: true, duration_seconds: 5, lines: 1, bad_lines: 0, truncated: true, signal: 'SIGTERM' },
      time: T,
    });
    const missing = runPoints(
      'gone',
      'h1',
      '',
      { exitCode: 127, timedOut: false, truncated: false, durationMs: 1, spawnError: '/nope: spawn /nope ENOENT' },
      T,
      rates,
    );
    expect(missing.points).toHaveLength(1);
    expect(missing.points[0].fields).toMatchObject({ exit_code: 127, error: '/nope: spawn /nope ENOENT' });
  });

  it('keeps rate series of different checks and types apart', () => {
    const rates = new CounterRates();
    runPoints('a', 'h', 'n 0 X rate\nn 0 Y rate\n', ok, T, rates);
    runPoints('b', 'h', 'n 0 X rate\n', ok, T, rates);
    const later = runPoints('a', 'h', 'n 10 X rate\nn 20 Y rate\n', ok, T + 1_000_000_000n, rates);
    expect(later.points.slice(0, 2).map((p) => [p.tags.type, p.fields.value])).toEqual([
      ['X', 10],
      ['Y', 20],
    ]);
    expect(rates.size).toBe(3);
  });
});
