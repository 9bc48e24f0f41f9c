import { mulberry32 } from '../../random.js';
import type { Redis } from 'ioredis';

/**
 * A synthetic building-management Redis in the MOC layout (~1,300–1,400 keys), for tests and the demo. Values are
 * invented but shaped like docs/../seed-data: busplugs ×10 / power factor ×1000, IRC temperatures °F×10, meters and
 * makeup/air handlers as `{metric, tags, value, timestamp}`, cooling, generators and a collector status. It also holds
 * what breaks feeders: values that are not JSON, keys that are hashes, documents that lack a field, a document without
 * a timestamp, and a churn set of keys present on some passes only. Each key says what it is (`kind`), so a test can
 * compare what the feeder wrote with what was there.
 */

export type KeyKind = 'valid' | 'not_json' | 'missing_field' | 'no_timestamp' | 'hash';

export interface GeneratedKey {
  key: string;
  /** The family the defaults put it in. */
  family: string;
  kind: KeyKind;
  /** The string value; for a hash, its field map. */
  value: string | Record<string, string>;
}

export interface GeneratorOptions {
  seed?: number;
  /** Pass number: the churn keys present differ from one pass to the next. */
  pass?: number;
  /** Epoch seconds of the readings. */
  timestamp?: number;
}

const ROWS = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'R8'];
const PODS = ['PA', 'PB', 'PC'];
const RACKS = Array.from({ length: 11 }, (_, i) => `C${String(i + 1).padStart(2, '0')}`);
const PLUGS = ['A1', 'A2', 'B1', 'B2'];

export function generateMoc(opts: GeneratorOptions = {}): GeneratedKey[] {
  const rand = mulberry32(opts.seed ?? 42);
  const pass = opts.pass ?? 0;
  const ts = opts.timestamp ?? 1468249200;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const out: GeneratedKey[] = [];
  const doc = (key: string, family: string, value: Record<string, unknown>, kind: KeyKind = 'valid'): void => {
    out.push({ key, family, kind, value: JSON.stringify(value) });
  };

  for (const row of ROWS)
    for (const pod of PODS)
      for (const rack of RACKS)
        for (const plug of PLUGS) {
          const key = `electrical:busplug:${row}-${pod}-${rack}:${plug}:JSON`;
          const amps = int(20, 90);
          const value: Record<string, unknown> = {
            timestamp: ts,
            active_power: int(2000, 4000),
            apparent_power: int(2100, 4300),
            reactive_power: int(200, 600),
            power_factor: int(880, 990),
            frequency: int(598, 602),
            voltage_ln1: int(2280, 2320),
            voltage_ln2: int(2280, 2320),
            voltage_ln3: int(2280, 2320),
            current_l1_hires: amps,
            current_l1_lowres: Math.floor(amps / 10),
            current_n_hires: int(0, 9),
            metered_active_energy: int(100000, 200000),
            mac_addr_1: 0,
          };
          const churn = rack === 'C11' && plug === 'B2';
          if (churn && (int(0, 1) + pass) % 2 === 0) continue;
          doc(key, 'busplug', value);
        }
  // Exceptions among the busplugs: a missing field, a value that is not JSON, a hash, a float timestamp, no timestamp.
  doc('electrical:busplug:R2-PA-C12:A1:JSON', 'busplug', { timestamp: ts, apparent_power: 3000, power_factor: 950 }, 'missing_field');
  out.push({ key: 'electrical:busplug:R2-PA-C12:A2:JSON', family: 'busplug', kind: 'not_json', value: 'ERR sensor offline' });
  out.push({ key: 'electrical:busplug:R3-PB-C12:A1:JSON', family: 'busplug', kind: 'hash', value: { active_power: '3100', power_factor: '941' } });
  doc('electrical:busplug:R3-PB-C12:A2:JSON', 'busplug', { timestamp: ts + 0.25, active_power: 3105, power_factor: 941 });
  doc('electrical:busplug:R4-PC-C12:A1:JSON', 'busplug', { active_power: 3105, power_factor: 941 }, 'no_timestamp');

  for (const row of ROWS)
    for (const pod of PODS)
      for (let n = 1; n <= 9; n++) {
        const key = `mechanical:irc:${row}-${pod}-IRC${String(n).padStart(2, '0')}:JSON`;
        doc(key, 'irc', {
          timestamp: ts,
          leaving_fluid_temp: int(770, 800),
          entering_fluid_temp: int(740, 770),
          rack_inlet_temp: int(700, 740),
          return_air_temp: int(790, 820),
          supply_air_temp: int(680, 720),
          fan_speed_pct: int(30, 90),
          mac_addr_0: 0,
        });
      }
  out.push({ key: 'mechanical:irc:R1-PA-IRC99:JSON', family: 'irc', kind: 'not_json', value: '{"timestamp": 1468249200, "leaving_fluid_temp": 78' });

  for (const dev of ['SWBD-U1A', 'SWBD-U1B', 'SWBD-U2A', 'SWBD-U2B', 'SWBD-U3A', 'SWBD-U3B']) {
    for (const metric of ['watts', 'volts', 'amps', 'apparent_pf']) {
      const value = metric === 'apparent_pf' ? -(int(880, 950) / 1000) : int(1000, 60000);
      doc(`electrical:meters:${dev}:${metric}`, 'meter', { metric: `electrical.meter.${metric}`, tags: { deviceid: dev }, value, timestamp: ts });
    }
  }
  for (const dev of ['MAU1', 'MAU2', 'MAU3', 'MAU4']) {
    doc(`mechanical:makeup:${dev}:JSON`, 'makeup', { metric: `mechanical:makeup:${dev}`, tags: dev, value: int(0, 1), timestamp: ts });
  }
  for (const dev of ['AHU1', 'AHU2', 'AHU3', 'AHU4', 'AHU5', 'AHU6']) {
    doc(`mechanical:airhand:${dev}:JSON`, 'airhand', { metric: `mechanical:airhand:${dev}`, tags: dev, value: int(0, 1), timestamp: ts });
  }
  for (const ch of ['CH1', 'CH2', 'CH3', 'CH4']) doc(`mechanical:cooling:${ch}:JSON`, 'cooling', { timestamp: ts + 0.0, kwh: int(80000, 130000) });
  doc('mechanical:cooling:CTTotal:JSON', 'cooling', { timestamp: ts, tons_daily_avg: 512.3, gpm_daily_avg: 1200.5, gal_makeup_total: 1000 });
  for (const g of ['GENA', 'GENB', 'GENC', 'GEND', 'GENE', 'GENF']) {
    doc(`electrical:generator:${g}:JSON`, 'generator', { timestamp: ts, total_fuel_consumption: int(5000, 9000) + 0.5 });
  }
  doc('status:collector:JSON', 'collector', {
    timestamp: ts,
    iteration: 4242 + pass,
    lastfetch: 'Jul 11, 2016 10:00:00',
    lastredisupdate: 'Jul 11, 2016 10:00:01',
  });
  out.push({ key: 'status:bms-gateway', family: 'collector', kind: 'hash', value: { state: 'up' } });
  return out;
}

/**
 * Makes Redis hold exactly `keys` among the keys of `previous` (the set a former call wrote): sets the new values and
 * deletes what disappeared. Pipelined, so a demo can replay a pass a second.
 */
export async function applyToRedis(redis: Redis, keys: GeneratedKey[], previous: GeneratedKey[] = []): Promise<void> {
  const now = new Set(keys.map((k) => k.key));
  const p = redis.pipeline();
  for (const old of previous) if (!now.has(old.key)) p.del(old.key);
  for (const k of keys) {
    if (typeof k.value === 'string') p.set(k.key, k.value);
    else p.del(k.key).hset(k.key, k.value);
  }
  const results = await p.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}
