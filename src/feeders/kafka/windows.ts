/**
 * Counts over sliding windows (5 min, 1 h, 24 h for the status line) in one-minute buckets: a ring of 1,440 slots
 * per counter, so memory is fixed however long the feeder runs. Time is passed in, never read here.
 */
const MINUTE = 60_000;

export const STATUS_WINDOWS: ReadonlyArray<readonly [string, number]> = [
  ['5m', 5 * MINUTE],
  ['1h', 60 * MINUTE],
  ['24h', 24 * 60 * MINUTE],
];

export class WindowedCounts {
  private readonly slots: number;
  private readonly counts = new Map<string, Float64Array>();
  /** The minute number each slot currently holds, shared by all counters. */
  private readonly minuteOfSlot: Float64Array;

  constructor(spanMs = 24 * 60 * MINUTE) {
    this.slots = Math.ceil(spanMs / MINUTE);
    this.minuteOfSlot = new Float64Array(this.slots).fill(-1);
  }

  add(name: string, n: number, nowMs: number): void {
    const minute = Math.floor(nowMs / MINUTE);
    const slot = minute % this.slots;
    if (this.minuteOfSlot[slot] !== minute) {
      for (const arr of this.counts.values()) arr[slot] = 0;
      this.minuteOfSlot[slot] = minute;
    }
    let arr = this.counts.get(name);
    if (!arr) {
      arr = new Float64Array(this.slots);
      this.counts.set(name, arr);
    }
    arr[slot] += n;
  }

  /** The total of `name` over the last `windowMs`, counting whole minutes including the current one. */
  sum(name: string, windowMs: number, nowMs: number): number {
    const arr = this.counts.get(name);
    if (!arr) return 0;
    const minute = Math.floor(nowMs / MINUTE);
    const span = Math.min(this.slots, Math.ceil(windowMs / MINUTE));
    let total = 0;
    for (let m = minute - span + 1; m <= minute; m++) {
      const slot = ((m % this.slots) + this.slots) % this.slots;
      if (this.minuteOfSlot[slot] === m) total += arr[slot];
    }
    return total;
  }

  /** `{ consumed: { '5m': n, '1h': n, '24h': n }, … }` for the status line. */
  summary(names: string[], nowMs: number): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const name of names) {
      out[name] = {};
      for (const [label, ms] of STATUS_WINDOWS) out[name][label] = this.sum(name, ms, nowMs);
    }
    return out;
  }
}
