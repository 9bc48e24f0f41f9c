import { describe, expect, it } from 'vitest';
import { Metrics } from '../metrics.js';
import { FeederCounters, ProblemLog } from './feeder.js';

describe('feeder counters', () => {
  it('keep totals and reasons, and mirror every change into Prometheus metrics', async () => {
    const counters = new FeederCounters();
    const metrics = new Metrics();
    metrics.followFeeder('redis', counters);
    counters.add('read', 5);
    counters.add('written', 3);
    counters.add('retried', 2);
    counters.drop('not_json');
    counters.drop('vanished', 2);
    expect(counters.stats()).toEqual({ read: 5, written: 3, rejected: 0, retried: 2, dropped: 3, droppedBy: { not_json: 1, vanished: 2 }, lagSeconds: 0 });
    expect(metrics.summary().feeders.redis).toMatchObject({ read: 5, written: 3, retried: 2, dropped: 3, rejected: 0 });
    expect(await metrics.exposition()).toMatch(/feeder="redis"/);
  });

  it('tell losses (refused, given up) from source-side skips, and mirror the lag gauge', () => {
    const counters = new FeederCounters();
    const metrics = new Metrics();
    metrics.followFeeder('kafka', counters);
    counters.drop('not_json', 4);
    counters.drop('filtered', 2);
    counters.drop('dead_lettered');
    expect(counters.losses()).toEqual({ total: 0, rejected: 0, givenUp: {} });
    counters.add('rejected', 3);
    counters.drop('retries_exhausted', 5);
    counters.drop('shutdown', 2);
    counters.drop('buffer_full');
    expect(counters.losses()).toEqual({ total: 11, rejected: 3, givenUp: { retries_exhausted: 5, shutdown: 2, buffer_full: 1 } });
    counters.setLag(12.5);
    counters.setLag(3);
    expect(counters.stats().lagSeconds).toBe(3);
    expect(metrics.summary().feeders.kafka.lagSeconds).toBe(3);
  });

  it('a snapshot does not change afterwards', () => {
    const counters = new FeederCounters();
    counters.drop('x');
    const snap = counters.stats();
    counters.drop('x');
    expect(snap.droppedBy.x).toBe(1);
  });

  it('problem log keeps a count and a few examples per reason', () => {
    const p = new ProblemLog(2);
    for (const k of ['a', 'b', 'c']) p.add('not_json', k);
    p.add('no source timestamp', 'd', 'written');
    const logged: unknown[] = [];
    p.report({ warn: (msg: string, meta: unknown) => logged.push([msg, meta]) } as never, { family: 'busplug' });
    expect(logged).toEqual([
      ['skipped 3 item(s): not_json', { family: 'busplug', reason: 'not_json', outcome: 'skipped', count: 3, examples: ['a', 'b'] }],
      // Written, not skipped: the log must not say a point was lost when it was not.
      ['written 1 item(s): no source timestamp', { family: 'busplug', reason: 'no source timestamp', outcome: 'written', count: 1, examples: ['d'] }],
    ]);
    expect(p.size).toBe(0);
  });
});
