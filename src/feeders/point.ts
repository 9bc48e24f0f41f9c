import { escape } from '@influxdata/influxdb-client';

/**
 * What every transform produces: plain data, so tests compare objects. Numbers become float fields (one type per
 * field, always: InfluxDB refuses a field that is a float in one point and an integer in the next). `time` is
 * nanoseconds since the epoch as a bigint; it never passes through a JS number.
 */
export type FieldValue = number | string | boolean;

export interface FeedPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  time: bigint;
  /**
   * A line of line protocol to write as it is (the exec feeder passes its scripts' lines through: their int, uint
   * and float fields stay what they were). The other members are then the line's name and time, for counting.
   */
  raw?: string;
}

/**
 * Line protocol for one point, as the client's Point writes it (its escaping; fields and tags sorted by key; floats as
 * String(n); booleans T/F; empty tag values left out), built as one string without a Point object per line: this is
 * the Kafka feeder's inner loop. Undefined if it has no (finite) field.
 */
export function toLineProtocol(p: FeedPoint): string | undefined {
  if (p.raw !== undefined) return p.raw;
  if (p.measurement === '') return undefined;
  let fields = '';
  for (const k of Object.keys(p.fields).sort()) {
    const v = p.fields[k];
    let text: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) continue;
      text = String(v);
    } else if (typeof v === 'boolean') text = v ? 'T' : 'F';
    else text = escape.quoted(v);
    if (k === '') continue;
    fields += `${fields === '' ? '' : ','}${escape.tag(k)}=${text}`;
  }
  if (fields === '') return undefined;
  let line = escape.measurement(p.measurement);
  for (const k of Object.keys(p.tags).sort()) {
    const v = p.tags[k];
    if (k !== '' && v !== '') line += `,${escape.tag(k)}=${escape.tag(v)}`;
  }
  return `${line} ${fields} ${p.time}`;
}

export const NS_PER_MS = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;

export function msToNs(ms: number): bigint {
  return BigInt(ms) * NS_PER_MS;
}

export function nowNs(): bigint {
  return msToNs(Date.now());
}

/**
 * Epoch seconds, possibly fractional (`1467990000.0`, `1467990000.25`), to ns. The decimal text is split at the
 * point so the integer part is exact; the fraction keeps what a double has (sub-microsecond digits are noise anyway).
 */
export function secondsToNs(seconds: number): bigint | undefined {
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  if (Number.isSafeInteger(seconds)) return BigInt(seconds) * NS_PER_S;
  const text = seconds.toFixed(9);
  const [whole, frac] = text.split('.');
  return BigInt(whole) * NS_PER_S + BigInt(frac);
}
