import { describe, expect, it } from 'vitest';
import { findFunction } from '../udf/registry.js';
import type { Logger } from '../log.js';
import { LogThrottle } from './log-throttle.js';
import type { Response } from './messages.js';
import { Session } from './session.js';

function recorder() {
  const lines: { level: string; message: string; meta: Record<string, unknown> }[] = [];
  const log = {
    warn: (message: string, meta: Record<string, unknown>) => lines.push({ level: 'warn', message, meta }),
    error: (message: string, meta: Record<string, unknown>) => lines.push({ level: 'error', message, meta }),
  } as unknown as Logger;
  return { lines, log };
}

describe('LogThrottle', () => {
  it('logs a bad connection at most 10 times a window per message, then says how many it left out', () => {
    const { lines, log } = recorder();
    let now = 0;
    const throttle = new LogThrottle(log, 10, 10_000, () => now);
    // 1,000 connections that each send a point before Init, as a hostile client might.
    for (let i = 0; i < 1000; i++) {
      const s = new Session(findFunction('rate'), [] as Response[], { log, badConnectionLog: throttle });
      s.handle({ kind: 'keepalive', time: 1n });
      s.handle({ kind: 'snapshot' });
      s.fail('rate: point before a successful Init');
    }
    expect(lines).toHaveLength(10);
    now = 10_000;
    throttle.error('ending connection with ErrorResponse', { function: 'rate' });
    expect(lines).toHaveLength(11);
    expect(lines[10].meta).toEqual({ function: 'rate', suppressedBefore: 990 });
    throttle.warn('connection refused', { reason: 'limit' });
    expect(lines).toHaveLength(12);
  });
});
