/**
 * A feeder's health for an orchestrator: every few seconds it checks that its source (Redis, the Kafka brokers, the
 * routers' SSH ports) and InfluxDB answer, and remembers when each last did.
 *
 *   liveness  (/healthz): unhealthy once a target has been unreachable for longer than `unhealthyAfterMs` — a restart
 *                         or a page is due; a short outage, which the feeder rides out by retrying, is not one.
 *   readiness (/readyz):  ready only while every target answered its latest check.
 *
 * Checks are connections only (TCP for sources, InfluxDB's /ping, which 1.x and 2.x both answer): they say whether a
 * server is there, not whether the feeder's credentials work; refused writes are counted by the writer.
 */
import { connect } from 'node:net';
import type { Health } from '../metrics-server.js';

export interface Target {
  /** `source` or `influxdb`. */
  name: string;
  /** The addresses checked (host:port or a URL); reachable when any of them answers. */
  addresses: string[];
  check(address: string, timeoutMs: number): Promise<void>;
}

interface TargetState {
  lastOkMs: number | undefined;
  latestOk: boolean;
  error: string | undefined;
}

export interface MonitorOptions {
  unhealthyAfterMs: number;
  intervalMs: number;
  timeoutMs: number;
  now?: () => number;
}

export class ReachabilityMonitor {
  private readonly states = new Map<string, TargetState>();
  private readonly startedMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly targets: Target[],
    private readonly opts: MonitorOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.startedMs = this.now();
    for (const t of targets) this.states.set(t.name, { lastOkMs: undefined, latestOk: false, error: 'not checked yet' });
  }

  /** Checks now, then every interval until stop(). The timer never keeps the process alive on its own. */
  start(): void {
    const tick = () => {
      void this.checkAll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs).unref();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async checkAll(): Promise<void> {
    await Promise.all(this.targets.map((t) => this.checkTarget(t)));
  }

  private async checkTarget(t: Target): Promise<void> {
    const errors: string[] = [];
    for (const address of t.addresses) {
      try {
        await t.check(address, this.opts.timeoutMs);
        this.states.set(t.name, { lastOkMs: this.now(), latestOk: true, error: undefined });
        return;
      } catch (err) {
        errors.push(`${address}: ${(err as Error).message}`);
      }
    }
    const previous = this.states.get(t.name)!;
    this.states.set(t.name, { lastOkMs: previous.lastOkMs, latestOk: false, error: errors.join('; ') });
  }

  liveness(): Health {
    const now = this.now();
    const targets = this.report(now);
    const down = Object.entries(targets).filter(
      ([, r]) => r.unreachableForSeconds !== undefined && r.unreachableForSeconds * 1000 > this.opts.unhealthyAfterMs,
    );
    return {
      ok: down.length === 0,
      ...(down.length > 0 && {
        reason: down
          .map(([name, r]) => `${name} unreachable for ${r.unreachableForSeconds} s (more than ${this.opts.unhealthyAfterMs / 1000} s): ${r.error}`)
          .join('; '),
      }),
      targets,
    };
  }

  readiness(): Health {
    const targets = this.report(this.now());
    const down = Object.entries(targets).filter(([, r]) => !r.reachable);
    return { ok: down.length === 0, ...(down.length > 0 && { reason: down.map(([name, r]) => `${name}: ${r.error}`).join('; ') }), targets };
  }

  private report(now: number): Record<string, { reachable: boolean; addresses: string[]; unreachableForSeconds?: number; error?: string }> {
    return Object.fromEntries(
      this.targets.map((t) => {
        const s = this.states.get(t.name)!;
        if (s.latestOk) return [t.name, { reachable: true, addresses: t.addresses }];
        const since = s.lastOkMs ?? this.startedMs;
        return [t.name, { reachable: false, addresses: t.addresses, unreachableForSeconds: Math.round((now - since) / 100) / 10, error: s.error }];
      }),
    );
  }
}

/** Connects to host:port and closes again. */
export function checkTcp(address: string, timeoutMs: number): Promise<void> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
  });
}

/** GET <url>/ping: 204 from InfluxDB 1.x and 2.x alike. */
export async function checkInfluxPing(url: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    throw new Error(cause?.code ?? (err as Error).message);
  }
  await res.body?.cancel();
  if (!res.ok) throw new Error(`/ping answered HTTP ${res.status}`);
}

/** `host:port`, `[v6]:port` → parts. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`${address} is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

/** redis://[user:pass@]host[:port][/db] (and rediss://) → host:port. */
export function redisAddress(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 6379}`;
}
