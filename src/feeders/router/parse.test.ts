import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adslPoint, columnValues, parseAdslStatus, snakeCase, uptimeSeconds } from './parse.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/feeders/${name}`, import.meta.url), 'latin1');

describe('show adsl status parser', () => {
  it('reads the state and both columns of a line in SHOWTIME', () => {
    const r = parseAdslStatus(fixture('adsl-status-showtime.txt'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.state).toBe('SHOWTIME');
    expect(r.fields.actual_rate_down).toBe(16384);
    expect(r.fields.actual_rate_up).toBe(1023);
    expect(r.fields.snr_margin_up).toBe(12.1);
    expect(r.fields.line_attenuation_down).toBe(21.5);
    expect(r.fields.output_power_up).toBe(12.3);
    expect(r.fields.hec_errors_down).toBe(0);
    expect(typeof r.fields.crc_errors_down).toBe('number');
    expect(r.fields.mode).toBe('ADSL2+ (ITU G.992.5 Annex A)');
    expect(r.fields.uptime_s).toBeGreaterThan(2 * 86400);
    expect(r.skipped).toEqual([]);
  });

  it('reads TRAINING and leaves out what the modem reports as N/A', () => {
    const r = parseAdslStatus(fixture('adsl-status-training.txt'));
    expect(r.ok && r.state).toBe('TRAINING');
    if (!r.ok) return;
    expect(r.fields.actual_rate_down).toBe(0);
    expect(r.fields).not.toHaveProperty('snr_margin_down');
    expect(r.fields).not.toHaveProperty('output_power_up');
    expect(r.fields.line_attenuation_up).toBe(11.9);
  });

  it('refuses a garbled reply with a reason instead of inventing a state', () => {
    const r = parseAdslStatus(fixture('adsl-status-garbled.txt'));
    expect(r).toEqual({ ok: false, reason: 'no connection state in the reply' });
    expect(parseAdslStatus('')).toEqual({ ok: false, reason: 'empty reply' });
    expect(parseAdslStatus('% Unknown command: show adsl status\n')).toMatchObject({ ok: false });
  });

  it('skips one unreadable line of otherwise good output and says which', () => {
    const text = '  Status : SHOWTIME\n  Actual Rate : 16384 kbps 1023 kbps\n  SNR Margin : 6.#2 dB 12.1 dB\n';
    const r = parseAdslStatus(text);
    expect(r.ok && r.fields).toEqual({ actual_rate_down: 16384, actual_rate_up: 1023 });
    expect(r.ok && r.skipped).toEqual(['SNR Margin : 6.#2 dB 12.1 dB']);
  });

  it('accepts the State label and a lower-case state is not a state', () => {
    expect(parseAdslStatus('State : SHOWTIME')).toMatchObject({ ok: true, state: 'SHOWTIME' });
    expect(parseAdslStatus('Status : showtime')).toMatchObject({ ok: false });
  });

  it('splits values with units joined or apart', () => {
    expect(columnValues('16384 kbps      1023 kbps')).toEqual([16384, 1023]);
    expect(columnValues('6.2dB 12.1dB')).toEqual([6.2, 12.1]);
    expect(columnValues('N/A   3')).toEqual([null, 3]);
    expect(columnValues('-3.5 dBm')).toEqual([-3.5]);
    expect(columnValues('16\xff84 kb%ps')).toBeUndefined();
    expect(snakeCase('Line Attenuation (dB)')).toBe('line_attenuation_db');
    expect(uptimeSeconds('1 day, 00:00:01')).toBe(86401);
    expect(uptimeSeconds('0:01:00')).toBe(60);
  });

  it('makes an adsl_connection point tagged with the router name, state in value', () => {
    const r = parseAdslStatus('Status : TRAINING\nSNR Margin : 3 dB 4 dB');
    if (!r.ok) throw new Error('parse failed');
    expect(adslPoint('router1', r, 1514979141070000000n)).toEqual({
      measurement: 'adsl_connection',
      tags: { host: 'router1' },
      fields: { snr_margin_down: 3, snr_margin_up: 4, value: 'TRAINING' },
      time: 1514979141070000000n,
    });
  });
});
