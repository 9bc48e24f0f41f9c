/**
 * States of version 1, as the builds before state versions wrote them into snapshots and state dirs, in this build's
 * version 2 shapes (each function's `migrate`). Version 1 is every snapshot without a states version; a function had
 * one or two shapes under it, told apart here and nowhere else. A new function has no version 1 and needs none of this.
 *
 * The common change: version 1 kept times as bigints, version 2 keeps them as Times.
 */
import { Time } from '../agent/time.js';
import { COUNT, NEXT, VALUES } from '../agent/windows.js';

type Loose = Record<string, unknown> | null;
const numbers = (a: unknown): a is number[] => Array.isArray(a) && a.every((v) => typeof v === 'number');
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * edgeDetect: `since` a bigint; in its first form the watched values always in an array (`values`), even for one
 * field.
 */
export function edgeDetectFromVersion1(old: unknown, single: boolean): unknown {
  const s = old as { current?: unknown; values?: unknown; since?: unknown; candidate?: { current?: unknown; values?: unknown; point?: unknown } | null } | null;
  if (s === null || typeof s !== 'object' || typeof s.since !== 'bigint') return null;
  const first = s.current === undefined;
  const watched = (w: unknown) => (first && single && Array.isArray(w) && w.length === 1 ? w[0] : w);
  const c = s.candidate;
  if (c !== null && typeof c !== 'object') return null;
  return {
    current: (first ? s.values : s.current) == null ? null : watched(first ? s.values : s.current),
    since: Time.of(s.since),
    candidate: c == null ? null : { current: watched(first ? c.values : c.current), point: c.point },
  };
}

/**
 * movingAverage of `size` points: an array laid out as a count window (agent/windows.ts), but at times with all `size`
 * values kept from the start; or in its first form {ring, next, sum}. The sum is added again: version 1 did not keep
 * it exact.
 */
export function countAverageFromVersion1(old: unknown, size: number): unknown {
  let values: unknown;
  let next: unknown;
  if (Array.isArray(old)) {
    const count = old[COUNT];
    if (!Number.isInteger(count) || count < 0 || old.length < VALUES + count || old.length > VALUES + size) return null;
    values = old.slice(VALUES, VALUES + count);
    next = old[NEXT];
  } else {
    values = (old as Loose)?.ring;
    next = (old as Loose)?.next;
  }
  return numbers(values) ? [sum(values), next, values.length, ...values] : null;
}

/** movingAverage over a time window: the times as bigints, no sum. */
export function timeAverageFromVersion1(old: unknown): unknown {
  const w = old as { times?: unknown; values?: unknown } | null;
  if (!Array.isArray(w?.times) || !w.times.every((t) => typeof t === 'bigint') || !numbers(w.values)) return null;
  return { times: w.times.map(Time.of), values: w.values, sum: sum(w.values) };
}

/** rate: the time as {primed, timeHi, timeLo} beside the value, or in its first form as {time: bigint | null}. */
export function rateFromVersion1(old: unknown): unknown {
  const s = old as Loose;
  if (s === null || typeof s !== 'object') return null;
  if ('primed' in s) {
    const half = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
    if (typeof s.primed !== 'boolean' || !half(s.timeHi, -(2 ** 31), 2 ** 31 - 1) || !half(s.timeLo, 0, 2 ** 32 - 1)) return null;
    return { at: s.primed ? new Time(s.timeHi as number, s.timeLo as number) : null, value: s.value };
  }
  if (s.time != null && typeof s.time !== 'bigint') return null;
  return { at: s.time == null ? null : Time.of(s.time), value: s.value };
}
