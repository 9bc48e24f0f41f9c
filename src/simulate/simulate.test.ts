import { describe, expect, it } from 'vitest';
import { summarize } from '../feeders/kafka/transform.js';
import { parseAdslStatus } from '../feeders/router/parse.js';
import { adslStatusReply } from './router.js';
import { notification } from './sources.js';

describe('the demo sources make what the feeders read', () => {
  it('router replies parse, and each line retrains for 20 s of every minute: edges within a minute', () => {
    const states = Array.from({ length: 60 }, (_, s) => {
      const parsed = parseAdslStatus(adslStatusReply(1, s * 1000));
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.skipped).toEqual([]);
      return parsed.state;
    });
    expect(states.filter((s) => s === 'TRAINING')).toHaveLength(20);
    expect(states.filter((s) => s === 'SHOWTIME')).toHaveLength(40);
    expect(adslStatusReply(1, 0)).not.toBe(adslStatusReply(2, 0)); // routers are out of step
  });

  it('notifications summarize to points, with every state in turn', () => {
    const states = new Set<unknown>();
    for (let n = 0; n < 9; n++) {
      const s = summarize(Buffer.from(JSON.stringify(notification(n, 1_700_000_000_000))), String(n));
      if (!s.ok) throw new Error(s.reason);
      expect(s.point.measurement).toBe('maas_notification');
      expect(s.point.tags).not.toHaveProperty('label_parse');
      states.add(s.point.fields.state);
    }
    expect([...states].sort()).toEqual(['CRITICAL', 'OK', 'WARNING']);
  });
});
