/**
 * The project's one retry policy for calls that have no retry of their own (the InfluxDB write API and kafkajs
 * bring theirs). Only errors that say `retriable: true` are retried, so a bug or a bad config fails at once instead
 * of spinning.
 */
export interface RetryOptions {
  /** Attempts after the first one. */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Growth of the delay per attempt. */
  factor?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with up to 20% jitter so peers spread out. */
export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'minDelayMs' | 'maxDelayMs' | 'factor'>, random = Math.random): number {
  const base = Math.min(opts.maxDelayMs, opts.minDelayMs * (opts.factor ?? 2) ** (attempt - 1));
  return Math.round(base * (1 + 0.2 * random()));
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetriable(err) || attempt >= opts.retries || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt + 1, opts);
      opts.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts: callers check `signal.aborted` themselves. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
