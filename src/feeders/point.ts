import { Point } from '@influxdata/influxdb-client';

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
}

/** Line protocol for one point (the client's Point escapes names, tags and strings). Undefined if it has no field. */
export function toLineProtocol(p: FeedPoint): string | undefined {
  const point = new Point(p.measurement);
  for (const [k, v] of Object.entries(p.tags)) if (v !== '') point.tag(k, v);
  for (const [k, v] of Object.entries(p.fields)) {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) point.floatField(k, v);
    } else if (typeof v === 'boolean') point.booleanField(k, v);
    else point.stringField(k, v);
  }
  point.timestamp(p.time.toString());
  return point.toLineProtocol();
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
