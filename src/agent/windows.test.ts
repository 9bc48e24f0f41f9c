import { describe, expect, it } from 'vitest';
import { Duration } from '../duration.js';
import { streamPoint } from '../udf/testing.js';
import { countWindow, timeWindow } from './windows.js';

const S = 1_000_000_000n;
const at = (seconds: bigint) => streamPoint('m', {}, seconds * S, {});
const freshSum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('countWindow', () => {
  it('holds the last `size` values and their sum, full from the size-th value, through many laps', () => {
    const w = countWindow(4);
    const s = w.state.create();
    const seen: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const x = ((i * 7919) % 13) * 0.1;
      w.add(s, x, at(BigInt(i)));
      seen.push(x);
      expect(w.full(s)).toBe(seen.length >= 4);
      expect(w.count(s)).toBe(Math.min(seen.length, 4));
      expect(w.sum(s)).toBeCloseTo(freshSum(seen.slice(-4)), 12);
      expect(w.state.bytes(s)).toBe(16 + 8 * (3 + Math.min(seen.length, 4)));
      expect(w.state.valid(s)).toBe(true);
    }
  });

  it('counts a NaN or an infinity while it is in the window and not after it left', () => {
    const w = countWindow(2);
    const s = w.state.create();
    const sums = [1, Number.NaN, 2, 3, Infinity, 4, 5].map((x, i) => (w.add(s, x, at(BigInt(i))), w.sum(s)));
    expect(sums).toEqual([1, Number.NaN, Number.NaN, 5, Infinity, Infinity, 9]);
  });

  it('refuses a restored state that is not a window of its size', () => {
    const w = countWindow(3);
    expect(w.state.valid([0, 0, 0])).toBe(true);
    expect(w.state.valid([6, 1, 3, 1, 2, 3])).toBe(true);
    for (const bad of [
      [1, 0, 2, 1], // count says two values, one is there
      [10, 0, 4, 1, 2, 3, 4], // more than size
      [3, 1, 2, 1, 2], // a ring index before the window is full
      [6, 3, 3, 1, 2, 3], // a ring index past the end
      [6, 0.5, 3, 1, 2, 3],
      [0, 0, '0'],
      { sum: 0 },
      null,
    ]) {
      expect(w.state.valid(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('timeWindow', () => {
  it('holds the values with time in (t - window, t], always full', () => {
    const w = timeWindow(Duration.of('10s'));
    const s = w.state.create();
    const step = (t: bigint, x: number) => (w.add(s, x, at(t)), [w.count(s), w.sum(s), w.full(s)]);
    expect(step(0n, 10)).toEqual([1, 10, true]);
    expect(step(5n, 20)).toEqual([2, 30, true]);
    expect(step(10n, 30)).toEqual([2, 50, true]); // 0 is exactly one window back: out
    expect(step(30n, 40)).toEqual([1, 40, true]);
    expect(w.state.valid(s)).toBe(true);
    expect(w.state.bytes(s)).toBe(64 + 48);
  });

  it('adds the sum again when a NaN leaves', () => {
    const w = timeWindow(Duration.of('2s'));
    const s = w.state.create();
    const sums = [1, Number.NaN, 2, 3].map((x, i) => (w.add(s, x, at(BigInt(i))), w.sum(s)));
    expect(sums).toEqual([1, Number.NaN, Number.NaN, 5]);
  });

  it('refuses a restored state whose times and values differ in number', () => {
    const w = timeWindow(Duration.of('2s'));
    const s = w.state.create();
    w.add(s, 1, at(1n));
    expect(w.state.valid(s)).toBe(true);
    expect(w.state.valid({ ...s, values: [] })).toBe(false);
    expect(w.state.valid({ times: [1n], values: [1], sum: 1 })).toBe(false);
  });
});
