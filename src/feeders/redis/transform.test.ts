import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFamily, DEFAULT_FAMILIES, globToRegExp, type FamilyConfig } from './config.js';
import { generateMoc } from './generator.js';
import { transformValue } from './transform.js';

const families = DEFAULT_FAMILIES.map((f, i) => compileFamily(f, `default[${i}]`));
const family = (name: string): FamilyConfig => families.find((f) => f.name === name)!;
const NOW = 1_700_000_000_000_000_000n;

const fixtures = readFileSync(new URL('../../../test/fixtures/feeders/moc-redis-fixtures-synthetic.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { key: string; value: unknown });

function fixture(key: string): string {
  return JSON.stringify(fixtures.find((f) => f.key === key)!.value);
}

describe('redis transform', () => {
  it('scales a busplug and takes its tags from the key', () => {
    const r = transformValue(family('busplug'), 'electrical:busplug:R4-PB-C06:A2:JSON', fixture('electrical:busplug:R4-PB-C06:A2:JSON'), NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.point.measurement).toBe('electrical_busplug');
    expect(r.point.tags).toEqual({ row: 'R4', pod: 'PB', rack: 'C06', plug: 'A2' });
    expect(r.point.fields.power_factor).toBeCloseTo(941 / 1000);
    expect(r.point.fields.active_power).toBeCloseTo(3105 / 10);
    expect(r.point.fields.voltage_ln1).toBeCloseTo(2301 / 10);
    expect(r.point.fields.current_l1_hires).toBeCloseTo(45 / 10);
    expect(r.point.fields.current_l1_lowres).toBe(4);
    expect(r.point.fields).not.toHaveProperty('mac_addr_1');
    expect(r.point.fields).not.toHaveProperty('timestamp');
    expect(r.point.time).toBe(1467339303n * 1_000_000_000n);
  });

  it('keeps every IRC member but mac_addr_* and timestamp, temperatures in °F', () => {
    const key = 'mechanical:irc:R8-PC-IRC06:JSON';
    const r = transformValue(family('irc'), key, fixture(key), NOW);
    expect(r.ok && r.point.tags).toEqual({ row: 'R8', pod: 'PC', irc: 'IRC06' });
    expect(r.ok && r.point.fields.leaving_fluid_temp).toBeCloseTo(78.8);
    expect(r.ok && Object.keys(r.point.fields).some((k) => k.startsWith('mac_addr'))).toBe(false);
  });

  it('reads the metric shape with object tags and with a plain-string tag', () => {
    const meter = transformValue(family('meter'), 'electrical:meters:SWBD-U2A:watts', fixture('electrical:meters:SWBD-U2A:watts'), NOW);
    expect(meter.ok && meter.point).toMatchObject({ measurement: 'electrical_meter', tags: { deviceid: 'SWBD-U2A' }, fields: { watts: 51234 } });
    const ahu = transformValue(family('airhand'), 'mechanical:airhand:AHU1:JSON', fixture('mechanical:airhand:AHU1:JSON'), NOW);
    expect(ahu.ok && ahu.point).toMatchObject({ measurement: 'mechanical_airhand', tags: { device: 'AHU1' }, fields: { value: 1 } });
  });

  it('keeps a float source time exactly to the second and its fraction', () => {
    const r = transformValue(family('cooling'), 'mechanical:cooling:CH1:JSON', '{"timestamp": 1467990000.25, "kwh": 88387}', NOW);
    expect(r.ok && r.point.time).toBe(1467990000_250000000n);
    expect(r.ok && r.point.tags).toEqual({ device: 'CH1' });
  });

  it('falls back to now and flags it when the source time is missing', () => {
    const r = transformValue(family('cooling'), 'mechanical:cooling:CH1:JSON', '{"kwh": 88387}', NOW);
    expect(r.ok && r.point.time).toBe(NOW);
    expect(r.ok && r.point.fields.time_fallback).toBe(true);
    expect(r.ok && r.timeFallback).toBe(true);
  });

  it('names what is wrong instead of throwing', () => {
    const bp = family('busplug');
    const key = 'electrical:busplug:R1-PA-C01:A1:JSON';
    expect(transformValue(bp, key, 'ERR offline', NOW)).toMatchObject({ ok: false, reason: 'not_json' });
    expect(transformValue(bp, key, '[1,2]', NOW)).toMatchObject({ ok: false, reason: 'not_object' });
    expect(transformValue(bp, key, '{"timestamp": 1, "apparent_power": 3}', NOW)).toMatchObject({ ok: false, reason: 'missing_field' });
    expect(transformValue(bp, 'electrical:busplug:weird:JSON', '{"active_power":1,"power_factor":2}', NOW)).toMatchObject({
      ok: false,
      reason: 'key_pattern_mismatch',
    });
  });

  it('globs match whole names only', () => {
    expect(globToRegExp('mac_addr_*').test('mac_addr_1')).toBe(true);
    expect(globToRegExp('mac_addr_*').test('x_mac_addr_1')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('MOC generator', () => {
  it('has the size of the real instance and fluctuates between passes', () => {
    const a = generateMoc({ pass: 0 });
    const b = generateMoc({ pass: 1 });
    for (const set of [a, b]) {
      expect(set.length).toBeGreaterThanOrEqual(1300);
      expect(set.length).toBeLessThanOrEqual(1400);
    }
    const keysA = new Set(a.map((k) => k.key));
    const keysB = new Set(b.map((k) => k.key));
    expect([...keysA].some((k) => !keysB.has(k))).toBe(true);
    expect([...keysB].some((k) => !keysA.has(k))).toBe(true);
  });

  it('every valid generated value transforms, every broken one is refused', () => {
    for (const k of generateMoc()) {
      if (k.kind === 'hash') continue;
      const f = family(k.family);
      expect(
        f.shards.some((s) => globToRegExp(s).test(k.key)),
        k.key,
      ).toBe(true);
      const r = transformValue(f, k.key, k.value as string, NOW);
      expect(r.ok, `${k.key} ${k.kind}`).toBe(k.kind === 'valid' || k.kind === 'no_timestamp');
    }
  });
});
