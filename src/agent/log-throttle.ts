/**
 * Log lines about bad connections, throttled: a client that opens thousands of bad connections must not fill the disk
 * with one line each. Per message, at most `perWindow` lines in a window; the next line after it says how many were
 * left out.
 */
import type { Logger } from '../log.js';

interface Window {
  startedAt: number;
  lines: number;
  suppressed: number;
}

export class LogThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    readonly perWindow = 10,
    readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string, meta: Record<string, unknown>): void {
    this.write('warn', message, meta);
  }

  error(message: string, meta: Record<string, unknown>): void {
    this.write('error', message, meta);
  }

  private write(level: 'warn' | 'error', message: string, meta: Record<string, unknown>): void {
    const t = this.now();
    let w = this.windows.get(message);
    let suppressed = 0;
    if (w === undefined || t - w.startedAt >= this.windowMs) {
      suppressed = w?.suppressed ?? 0;
      w = { startedAt: t, lines: 0, suppressed: 0 };
      this.windows.set(message, w); // keyed by message: a fixed set of texts, so the map stays small
    }
    if (w.lines >= this.perWindow) {
      w.suppressed++;
      return;
    }
    w.lines++;
    this.log[level](message, suppressed > 0 ? { ...meta, suppressedBefore: suppressed } : meta);
  }
}
