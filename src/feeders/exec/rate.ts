/**
 * `rate` style: the per-second rate of a counter, from the last two readings of the same series. A reading below the
 * one before means the counter was reset (the process restarted, it wrapped): it has counted up from zero since, so
 * the increase is the new reading itself. Times are the nanosecond times of the runs that read them; the state lives
 * in the feeder (one per process), keyed by the caller.
 */
export class CounterRates {
  private readonly last = new Map<string, { value: number; timeNs: bigint }>();

  /** The rate since the series' previous reading; undefined for its first reading or a time that did not advance. */
  rate(series: string, value: number, timeNs: bigint): number | undefined {
    const before = this.last.get(series);
    if (before !== undefined && timeNs <= before.timeNs) return undefined;
    this.last.set(series, { value, timeNs });
    if (before === undefined) return undefined;
    const increase = value >= before.value ? value - before.value : value;
    return increase / (Number(timeNs - before.timeNs) / 1e9);
  }

  get size(): number {
    return this.last.size;
  }
}
