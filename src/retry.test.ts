import { describe, expect, it } from 'vitest';
import { SidecarError } from './errors.js';
import { backoffDelay, retry } from './retry.js';

describe('retry', () => {
  it('retries a retriable error and returns the later success', async () => {
    let calls = 0;
    const delays: number[] = [];
    const v = await retry(
      async () => {
        calls++;
        if (calls < 3) throw new SidecarError('X', 'transient', { retriable: true });
        return 'ok';
      },
      { retries: 5, minDelayMs: 1, maxDelayMs: 2, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('does not retry an error that is not known to be transient', async () => {
    let calls = 0;
    const fail = async (): Promise<never> => {
      calls++;
      throw new Error('bug');
    };
    await expect(retry(fail, { retries: 5, minDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow('bug');
    expect(calls).toBe(1);
  });

  it('gives up after the last retry', async () => {
    let calls = 0;
    const fail = async (): Promise<never> => {
      calls++;
      throw new SidecarError('X', 'down', { retriable: true });
    };
    await expect(retry(fail, { retries: 2, minDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow('down');
    expect(calls).toBe(3);
  });

  it('grows the delay exponentially up to the cap', () => {
    const opts = { minDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, opts, () => 0))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(1, opts, () => 1)).toBe(120);
  });
});
