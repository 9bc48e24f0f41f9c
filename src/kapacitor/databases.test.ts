import { describe, expect, it } from 'vitest';
import { defaultRetentionPolicy, parseDbrp, selectDatabases } from './databases.js';

describe('databases', () => {
  it('picks the default retention policy from a SHOW RETENTION POLICIES answer', () => {
    const json = {
      results: [
        {
          series: [
            {
              columns: ['name', 'duration', 'shardGroupDuration', 'replicaN', 'default'],
              values: [
                ['autogen', '0s', '168h0m0s', 1, false],
                ['30d', '720h0m0s', '24h0m0s', 1, true],
              ],
            },
          ],
        },
      ],
    };
    expect(defaultRetentionPolicy(json)).toBe('30d');
    expect(defaultRetentionPolicy({ results: [{}] })).toBeUndefined();
  });

  it('filters by match and exclude and sorts', () => {
    const all = [
      { db: 'telemetry', rp: 'autogen' },
      { db: '_internal', rp: 'monitor' },
      { db: 'alerts', rp: 'autogen' },
      { db: 'scratch', rp: 'autogen' },
    ];
    expect(selectDatabases(all, /^[^_]/, /^scratch$/)).toEqual([
      { db: 'alerts', rp: 'autogen' },
      { db: 'telemetry', rp: 'autogen' },
    ]);
  });

  it('reads db and db.rp', () => {
    expect(parseDbrp('telemetry')).toEqual({ db: 'telemetry', rp: 'autogen' });
    expect(parseDbrp('telemetry.1d3h46m40s')).toEqual({ db: 'telemetry', rp: '1d3h46m40s' });
  });
});
